/**
 * The grant types of the token endpoint (RFC 6749 §4.1.3, §4.4, §6). Each grant module exports `grantType`,
 * the `parameters` it requires, and `handle`, which takes the authenticated client and the form body and returns
 * the token response. The token endpoint checks support, the client's registered grant types and the required
 * parameters before calling `handle`.
 */
import type { AuthenticatedClient } from '../clients/client-auth';
import { clientGrantTypes } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError, UnauthorizedClientError, UnsupportedGrantTypeError } from '../errors';
import type { OAuthProject } from '../project';
import type { TokenResponse } from '../tokens/issue';
import type { KeyStore } from '../tokens/keys';
import * as authorizationCode from './authorization-code';
import * as clientCredentials from './client-credentials';
import * as refreshToken from './refresh-token';

/** What a grant handler gets. */
export interface GrantContext {
  deps: OAuthDeps;
  keys: KeyStore;
  project: OAuthProject;
  auth: AuthenticatedClient;
  /** The form parameters (no repeats; every value a string). */
  body: Record<string, string>;
  /** The thumbprint of the key of the request's DPoP proof: the tokens are bound to it (RFC 9449 §5). */
  dpopJkt?: string;
}

/** A grant type module. */
export interface Grant {
  grantType: string;
  /** Parameters the request must carry. */
  parameters: readonly string[];
  handle(ctx: GrantContext): Promise<TokenResponse>;
}

const GRANTS: ReadonlyMap<string, Grant> = new Map([authorizationCode, clientCredentials, refreshToken].map((g) => [g.grantType, g]));

/** The grant types this server supports, for discovery. */
export const SUPPORTED_GRANT_TYPES: readonly string[] = [...GRANTS.keys()];

/**
 * The grant module for a `grant_type` value.
 * @param grantType - the parameter
 * @returns the grant
 * @throws UnsupportedGrantTypeError for anything else
 */
export function findGrant(grantType: string): Grant {
  const grant = GRANTS.get(grantType);
  if (!grant) throw new UnsupportedGrantTypeError(`grant_type '${grantType.slice(0, 64)}' is not supported`);
  return grant;
}

/**
 * Checks that the client may use a grant and that the request carries its parameters.
 * @param grant - the grant
 * @param auth - the authenticated client
 * @param body - the form parameters
 * @throws UnauthorizedClientError when the ClientApplication does not list the grant type; InvalidRequestError
 *   when a required parameter is missing
 */
export function checkGrantRequest(grant: Grant, auth: AuthenticatedClient, body: Record<string, string>): void {
  if (!clientGrantTypes(auth.client).includes(grant.grantType)) throw new UnauthorizedClientError(`This client may not use the ${grant.grantType} grant`);
  const missing = grant.parameters.filter((name) => !body[name]);
  if (missing.length > 0) throw new InvalidRequestError(`Missing parameter(s) for ${grant.grantType}: ${missing.join(', ')}`);
}
