/**
 * `POST {issuer}/api/v1/oauth/token` (RFC 6749 §3.2, §5): form-encoded, never cached.
 * Steps: no-store → project → form → `grant_type` present and supported → (refresh without client credentials:
 * the client the refresh token names) → client authentication → the client lists the grant type
 * (`unauthorized_client`) and the grant's parameters are present → the grant issues tokens.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError } from '../errors';
import { checkGrantRequest, findGrant } from '../grants';
import type { KeyStore } from '../tokens/keys';
import { refreshTokenOwner } from '../tokens/refresh-tokens';
import { auditDetail } from './audit';
import { sendNoStore } from './respond';
import { clientAuthentication, loadProject, noCache, oauthLocals, parseForm } from './steps';

/** Refuses a request without a supported `grant_type` before any client lookup. */
function supportedGrantType(_req: Request, res: Response, next: NextFunction): void {
  const grantType = oauthLocals(res).params.grant_type;
  if (!grantType) throw new InvalidRequestError('grant_type is required');
  findGrant(grantType);
  next();
}

const CLIENT_PARAMETERS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'];

/**
 * RFC 6749 §6: a refresh request need not name its client, the refresh token does (SMART's JavaScript client
 * sends no `client_id`). When a refresh request carries no client credentials and no `client_id` at all, the
 * client of the token's grant (in this project) becomes the request's `client_id`; authentication then accepts it
 * only for a public client, and a confidential one is `invalid_client` before anything is consumed.
 * @param deps - OAuth dependencies
 * @returns the step
 */
function refreshTokenClient(deps: OAuthDeps): RequestHandler {
  // Synchronous for every other request: only an anonymous refresh needs the store.
  const fromRefreshToken = async (params: Record<string, string>, projectKey: string, refreshToken: string, next: NextFunction): Promise<void> => {
    const owner = await refreshTokenOwner(deps, refreshToken);
    if (owner?.project === projectKey) params.client_id = owner.clientId;
    next();
  };
  return function refreshTokenClientStep(req: Request, res: Response, next: NextFunction): void | Promise<void> {
    const { params, project } = oauthLocals(res);
    const anonymous = req.get('authorization') === undefined && CLIENT_PARAMETERS.every((name) => params[name] === undefined);
    if (params.grant_type === 'refresh_token' && anonymous && params.refresh_token) return fromRefreshToken(params, project.key, params.refresh_token, next);
    next();
  };
}

/** The client may use the grant, and the request carries the grant's parameters. */
function allowedGrantType(_req: Request, res: Response, next: NextFunction): void {
  const { params, client } = oauthLocals(res);
  checkGrantRequest(findGrant(params.grant_type as string), client, params);
  next();
}

/**
 * Runs the grant and sends its token response.
 * @param deps - OAuth dependencies
 * @param keys - the signing keys
 * @returns the step
 */
function callGrant(deps: OAuthDeps, keys: KeyStore): RequestHandler {
  return async function callGrantStep(_req: Request, res: Response): Promise<void> {
    const { params, client, project } = oauthLocals(res);
    const grant = findGrant(params.grant_type as string);
    const response = await grant.handle({ deps, keys, project, auth: client, body: params });
    // The security event names the patient in context (never a token).
    const { patient } = response as { patient?: unknown };
    if (typeof patient === 'string') auditDetail(res).patient = patient;
    sendNoStore(res, 200, response);
  };
}

/**
 * The token endpoint.
 * @param deps - OAuth dependencies
 * @param keys - the signing keys
 * @returns its middleware, in order
 */
export function tokenEndpoint(deps: OAuthDeps, keys: KeyStore): RequestHandler[] {
  return [noCache, loadProject(deps), parseForm, supportedGrantType, refreshTokenClient(deps), clientAuthentication(deps, 'token'), allowedGrantType, callGrant(deps, keys)];
}
