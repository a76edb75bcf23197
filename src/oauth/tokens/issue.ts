/**
 * Token responses (RFC 6749 §5.1, OIDC Core §3.1.3.3): a signed JWT access token (RFC 9068 `at+jwt`), a rotated
 * opaque refresh token when the client may have one, and an id_token when `openid` was granted.
 */
import { randomUUID } from 'node:crypto';
import { type ClientApplication, clientGrantTypes } from '../clients/client-store';
import { type ProjectSettings, projectSettings } from '../settings';
import type { OAuthDeps } from '../deps';
import type { OAuthProject } from '../project';
import type { Grant } from './grants';
import type { KeyStore } from './keys';
import { MAX_SIGNED_LIFETIME } from './keys';
import { signJwt } from './sign';
import { issueRefreshToken } from './refresh-tokens';
import { launchContextOf, smartStyleUrl, tokenResponseContext } from '../../smart/launch-context';

/** The JSON body of a successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  [context: string]: unknown;
}

/** What a token is issued for. */
export interface IssueRequest {
  project: OAuthProject;
  client: ClientApplication;
  grant: Grant;
  /** The scopes of this token (a refresh may narrow the grant's). */
  scope: string[];
  /** Seconds the access token (and id_token) live: {@link accessTokenLifetime}. */
  lifetime: number;
  /** `Membership.link` of the user as a relative reference (`Patient/1`), if any. */
  fhirUser?: string;
  /** Issue a new refresh token (rotation) when the client and scopes allow one. */
  allowRefresh: boolean;
  /** Scopes of the new refresh token (default: `scope`); a refresh keeps those of the token it replaces. */
  refreshScope?: string[];
  /** A refresh_token grant: the id_token then carries no nonce (OIDC Core §12.2). */
  refreshing?: boolean;
  /**
   * The thumbprint of the request's DPoP key: the access token carries it as `cnf.jkt` and is a `DPoP` token, and
   * a public client's refresh token is bound to it (RFC 9449 §5, §6).
   */
  dpopJkt?: string;
}

/**
 * The lifetime of a client's access tokens: its `accessTokenLifetime` when set, otherwise the project's settings
 * (by default 3600 s for tokens issued for a user and 300 s for a backend service's own `client_credentials`
 * tokens); at most 24 h.
 * @param client - the client
 * @param kind - whom the token is for: a user, or the client itself
 * @param settings - the project's settings
 * @returns seconds
 */
export function accessTokenLifetime(client: ClientApplication, kind: 'user' | 'backend', settings: Pick<ProjectSettings, 'accessTokenLifetime' | 'backendAccessTokenLifetime'>): number {
  const fallback = kind === 'backend' ? settings.backendAccessTokenLifetime : settings.accessTokenLifetime;
  const value = typeof client.accessTokenLifetime === 'number' ? client.accessTokenLifetime : fallback;
  return Math.min(Math.max(value, 1), MAX_SIGNED_LIFETIME);
}

/**
 * The lifetime of a client's refresh tokens: its `refreshTokenLifetime`, otherwise the project's settings.
 * @param client - the client
 * @param settings - the project's settings
 * @returns seconds
 */
export function refreshTokenLifetime(client: ClientApplication, settings: Pick<ProjectSettings, 'refreshTokenLifetime'>): number {
  return typeof client.refreshTokenLifetime === 'number' && client.refreshTokenLifetime > 0 ? client.refreshTokenLifetime : settings.refreshTokenLifetime;
}

/**
 * Whether a refresh token may accompany tokens for these scopes.
 * @param client - the client
 * @param scope - the granted scopes
 * @returns true when the client lists the refresh_token grant and offline_access or online_access was granted
 */
export function mayRefresh(client: ClientApplication, scope: string[]): boolean {
  return clientGrantTypes(client).includes('refresh_token') && (scope.includes('offline_access') || scope.includes('online_access'));
}

/**
 * Signs and issues the tokens.
 * @param deps - OAuth dependencies
 * @param keys - the key store
 * @param request - what to issue
 * @returns the token response body
 */
export async function issueTokens(deps: OAuthDeps, keys: KeyStore, request: IssueRequest): Promise<TokenResponse> {
  const { project, client, grant, scope, lifetime } = request;
  const settings = await projectSettings(deps.storage.resources, deps.config, project.key);
  const key = await keys.activeKey(project.key);
  const now = Math.floor(Date.now() / 1000);
  const fhirUser = request.fhirUser ? `${project.fhirBase}/${request.fhirUser}` : undefined;
  const claims: Record<string, unknown> = { client_id: client.id, scope: scope.join(' '), grant_id: grant.grantId };
  // A grant that is not stored: the token is its record (tokens/grants.ts), and its jti is the grant id.
  if (grant.stored === false) claims.grant_stored = false;
  if (fhirUser) claims.fhirUser = fhirUser;
  // The launch context rides in the token, so the FHIR API enforces `patient/` scopes without a lookup.
  const launch = launchContextOf(grant.launch);
  if (launch?.patient !== undefined) claims.patient = launch.patient;
  if (launch?.encounter !== undefined) claims.encounter = launch.encounter;
  if (request.dpopJkt !== undefined) claims.cnf = { jkt: request.dpopJkt };
  const accessToken = await signJwt(
    {
      ...claims,
      iss: project.issuer,
      sub: grant.userId ? `User/${grant.userId}` : client.id,
      aud: project.fhirBase,
      iat: now,
      exp: now + lifetime,
      jti: grant.stored === false ? grant.grantId : randomUUID(),
    },
    key,
    'at+jwt',
  );
  const tokenType = request.dpopJkt === undefined ? 'Bearer' : 'DPoP';
  const response: TokenResponse = { access_token: accessToken, token_type: tokenType, expires_in: lifetime, scope: scope.join(' ') };
  if (launch) {
    const styleUrl = smartStyleUrl(settings.smartStyleUrl, { issuer: project.issuer, tenant: project.tenant, name: project.project });
    Object.assign(response, tokenResponseContext(launch, styleUrl, settings.needPatientBanner));
  }
  if (fhirUser && scope.includes('fhirUser')) response.fhirUser = fhirUser;
  const refreshScope = request.refreshScope ?? scope;
  if (request.allowRefresh && mayRefresh(client, refreshScope)) {
    // A family never outlives its grant: rotation does not extend the authorization.
    const untilGrantEnds = grant.expiresAt ? Math.floor((Date.parse(grant.expiresAt) - Date.now()) / 1000) : Infinity;
    const lifetime = Math.min(refreshTokenLifetime(client, settings), untilGrantEnds);
    // A confidential client proves itself at every refresh; a public client's refresh token is held to its key.
    const bindTo = client.tokenEndpointAuthMethod === 'none' ? request.dpopJkt : undefined;
    const data = { grantId: grant.grantId, clientId: client.id, scope: refreshScope, ...(bindTo === undefined ? {} : { jkt: bindTo }) };
    if (lifetime > 0) response.refresh_token = await issueRefreshToken(deps, data, lifetime);
  }
  if (scope.includes('openid') && grant.userId) {
    const idClaims: Record<string, unknown> = {};
    if (grant.authTime !== undefined) idClaims.auth_time = grant.authTime;
    if (grant.nonce && !request.refreshing) idClaims.nonce = grant.nonce;
    if (fhirUser && scope.includes('fhirUser')) idClaims.fhirUser = fhirUser;
    response.id_token = await signJwt(
      { ...idClaims, iss: project.issuer, sub: `User/${grant.userId}`, aud: client.id, iat: now, exp: now + (settings.idTokenLifetime ?? lifetime) },
      key,
      'JWT',
    );
  }
  return response;
}
