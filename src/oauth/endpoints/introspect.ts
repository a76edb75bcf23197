/**
 * `POST {issuer}/api/v1/oauth/introspect` (RFC 7662):
 * - the caller authenticates as a confidential client (public clients → `invalid_client`);
 * - `token` is required; `token_type_hint` is accepted and only decides which kind is tried first;
 * - an active access token of this project (signature, expiry, grant, client, user and membership all checked,
 *   as the FHIR API checks them) → `active: true` with scope, client_id, sub, exp, iat, iss, aud, token_type
 *   (`DPoP` for a DPoP-bound token, with its `cnf.jkt`, RFC 9449 §6.2) and the context claims; an active refresh token (unused, grant, client, user and membership active) → the same
 *   for the refresh token;
 * - anything else (unknown, expired, revoked, another project's) → exactly `{ "active": false }`.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import { isClientActive, loadClient } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import { userContext } from '../grants/user-context';
import { InvalidClientError, InvalidRequestError, OAuthError } from '../errors';
import type { OAuthProject } from '../project';
import { isGrantActive, readGrant } from '../tokens/grants';
import { peekRefreshToken } from '../tokens/refresh-tokens';
import { sendNoStore } from './respond';
import { clientAuthentication, loadProject, noCache, oauthLocals, parseForm } from './steps';

const INACTIVE = { active: false } as const;

/** Only confidential clients may introspect, and they must name a token. */
function confidentialCaller(_req: Request, res: Response, next: () => void): void {
  const { client, params } = oauthLocals(res);
  if (client.method === 'none') throw new InvalidClientError('Introspection is for confidential clients');
  if (!params.token) throw new InvalidRequestError('token is required');
  next();
}

async function accessTokenInfo(bearer: BearerAuthenticator, token: string, project: OAuthProject): Promise<Record<string, unknown> | undefined> {
  if (token.split('.').length !== 3) return undefined;
  try {
    const auth = await bearer.authenticateToken(token, project);
    return {
      active: true,
      scope: auth.scopes.join(' '),
      client_id: auth.clientId,
      sub: auth.userId ? `User/${auth.userId}` : auth.clientId,
      exp: auth.exp,
      iat: auth.iat,
      iss: project.issuer,
      aud: project.fhirBase,
      token_type: auth.jkt === undefined ? 'Bearer' : 'DPoP',
      ...(auth.jti ? { jti: auth.jti } : {}),
      ...(auth.jkt === undefined ? {} : { cnf: { jkt: auth.jkt } }),
      ...(auth.fhirUser ? { fhirUser: auth.fhirUser } : {}),
      ...(auth.patient ? { patient: auth.patient } : {}),
      ...(auth.encounter ? { encounter: auth.encounter } : {}),
    };
  } catch (err) {
    if (err instanceof OAuthError) return undefined;
    throw err;
  }
}

async function refreshTokenInfo(deps: OAuthDeps, token: string, project: OAuthProject): Promise<Record<string, unknown> | undefined> {
  const refresh = await peekRefreshToken(deps, token);
  const grant = refresh ? await readGrant(deps, refresh.grantId) : undefined;
  if (!refresh || !isGrantActive(grant) || grant.project !== project.key) return undefined;
  const client = await loadClient(deps, project.key, refresh.clientId);
  if (!client || !isClientActive(client)) return undefined;
  if (grant.userId && !(await userContext(deps, project.key, grant.userId, grant.membershipId)).active) return undefined;
  return {
    active: true,
    scope: refresh.scope.join(' '),
    client_id: refresh.clientId,
    sub: grant.userId ? `User/${grant.userId}` : refresh.clientId,
    ...(refresh.expiresAt ? { exp: Math.floor(Date.parse(refresh.expiresAt) / 1000) } : {}),
    iat: Math.floor(Date.parse(grant.createdAt) / 1000),
    iss: project.issuer,
    token_type: 'refresh_token',
  };
}

/**
 * Answers with the token's state.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the step
 */
function introspectToken(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler {
  return async function introspectTokenStep(_req: Request, res: Response): Promise<void> {
    const { params, project } = oauthLocals(res);
    const token = params.token as string;
    const info = (await accessTokenInfo(bearer, token, project)) ?? (await refreshTokenInfo(deps, token, project));
    sendNoStore(res, 200, info ?? INACTIVE);
  };
}

/**
 * The introspection endpoint.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns its middleware, in order
 */
export function introspectEndpoint(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler[] {
  return [noCache, loadProject(deps), parseForm, clientAuthentication(deps, 'introspect'), confidentialCaller, introspectToken(deps, bearer)];
}
