/**
 * `POST {issuer}/api/v1/oauth/token` (RFC 6749 §3.2, §5): form-encoded, never cached.
 * Steps: no-store → project → form → `grant_type` present and supported → client authentication → the client
 * lists the grant type (`unauthorized_client`) and the grant's parameters are present → the grant issues tokens.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError } from '../errors';
import { checkGrantRequest, findGrant } from '../grants';
import type { KeyStore } from '../tokens/keys';
import { sendNoStore } from './respond';
import { clientAuthentication, loadProject, noCache, oauthLocals, parseForm } from './steps';

/** Refuses a request without a supported `grant_type` before any client lookup. */
function supportedGrantType(_req: Request, res: Response, next: NextFunction): void {
  const grantType = oauthLocals(res).params.grant_type;
  if (!grantType) throw new InvalidRequestError('grant_type is required');
  findGrant(grantType);
  next();
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
    sendNoStore(res, 200, await grant.handle({ deps, keys, project, auth: client, body: params }));
  };
}

/**
 * The token endpoint.
 * @param deps - OAuth dependencies
 * @param keys - the signing keys
 * @returns its middleware, in order
 */
export function tokenEndpoint(deps: OAuthDeps, keys: KeyStore): RequestHandler[] {
  return [noCache, loadProject(deps), parseForm, supportedGrantType, clientAuthentication(deps, 'token'), allowedGrantType, callGrant(deps, keys)];
}
