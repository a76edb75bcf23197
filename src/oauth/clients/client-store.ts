/**
 * ClientApplication lookup for the authorization server. Clients are FHIR resources read through the same store
 * as every other resource, so a client created or edited through the FHIR API is live on the next request.
 */
import { isValidId } from '../../fhir/repository/repository';
import type { OAuthDeps } from '../deps';

/** A ClientApplication as the authorization server reads it (never with its secret). */
export type ClientApplication = Record<string, unknown> & {
  id: string;
  status?: string;
  grantType?: string[];
  tokenEndpointAuthMethod?: string;
  redirectUri?: string[];
  scope?: string;
  jwks?: string;
  jwksUri?: string;
  accessTokenLifetime?: number;
  refreshTokenLifetime?: number;
  consentRequired?: boolean;
  requirePkce?: boolean;
  launchUri?: string;
  requirePushedAuthorizationRequests?: boolean;
  /** Every token request must carry a DPoP proof; the client's access tokens are all DPoP-bound (RFC 9449 §5.2). */
  dpopBoundAccessTokens?: boolean;
};

/** Default lifetimes in seconds: access tokens issued for a user, ... */
export const DEFAULT_ACCESS_TOKEN_LIFETIME = 3600;
/** ... access tokens of a backend service (client_credentials; SMART Backend Services: at most 5 minutes), ... */
export const DEFAULT_BACKEND_ACCESS_TOKEN_LIFETIME = 300;
/** ... and refresh tokens. */
export const DEFAULT_REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600;

/**
 * Reads a client by id (= client_id).
 * @param deps - OAuth dependencies
 * @param project - the project key
 * @param clientId - the client id
 * @returns the client without its secret, or undefined when unknown or deleted
 */
export async function loadClient(deps: OAuthDeps, project: string, clientId: string): Promise<ClientApplication | undefined> {
  const record = await loadClientRecord(deps, project, clientId);
  return record?.client;
}

/**
 * Reads a client and its hashed credentials (secret, registration access token; for authentication only).
 * @param deps - OAuth dependencies
 * @param project - the project key
 * @param clientId - the client id
 * @returns the client and the stored secret hash, or undefined
 */
export async function loadClientRecord(
  deps: OAuthDeps,
  project: string,
  clientId: string,
): Promise<{ client: ClientApplication; secretHash?: string; registrationTokenHash?: string } | undefined> {
  if (!isValidId(clientId)) return undefined;
  // Read only, never changed: the store's own (frozen) copy, not a clone.
  const doc = await deps.storage.resources.readCurrent(project, 'ClientApplication', clientId, { shared: true });
  if (!doc || doc.deleted || !doc.resource) return undefined;
  const { secret, registrationAccessToken, ...client } = doc.resource;
  return {
    client: client as ClientApplication,
    secretHash: typeof secret === 'string' ? secret : undefined,
    ...(typeof registrationAccessToken === 'string' ? { registrationTokenHash: registrationAccessToken } : {}),
  };
}

/**
 * Whether a client may be used at all.
 * @param client - the client
 * @returns true unless its status is inactive
 */
export function isClientActive(client: ClientApplication): boolean {
  return client.status !== 'inactive';
}

/**
 * The grant types a client may use (`client_credentials` when none are listed and it has a secret is not
 * assumed: the list is explicit).
 * @param client - the client
 * @returns the grant types
 */
export function clientGrantTypes(client: ClientApplication): string[] {
  return Array.isArray(client.grantType) ? client.grantType.filter((g): g is string => typeof g === 'string') : [];
}
