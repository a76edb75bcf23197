/**
 * `POST {issuer}/api/v1/oauth/token` (RFC 6749 §3.2, §5): form-encoded, never cached.
 * Steps: no-store → project → form → `grant_type` present and supported → a `DPoP` proof, when sent, checked
 * (RFC 9449 §5; dpop/dpop.ts) → (refresh without client credentials: the client the refresh token names) →
 * client authentication → the client lists the grant type (`unauthorized_client`) and the grant's parameters are
 * present → the proof is marked used, or a client registered with `dpopBoundAccessTokens` is refused for sending
 * none → the grant issues tokens (bound to the proof's key when there is one).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OAuthDeps } from '../deps';
import type { CheckedProof, DpopProofs } from '../dpop/dpop';
import { InvalidDpopProofError, InvalidRequestError } from '../errors';
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

/** The request's checked DPoP proof, if it carried one. */
function dpopLocals(res: Response): { dpop?: CheckedProof } {
  return res.locals as { dpop?: CheckedProof };
}

/**
 * Checks the request's `DPoP` proof, if it carries one (`htm` POST, `htu` the token endpoint's public URL); with
 * nonces required the current nonce goes back in `DPoP-Nonce`, on success and on `use_dpop_nonce` alike.
 * @param dpop - the proof checker
 * @returns the step
 */
function dpopProof(dpop: DpopProofs): RequestHandler {
  return async function dpopProofStep(req: Request, res: Response, next: NextFunction): Promise<void> {
    const proof = req.get('dpop');
    if (proof === undefined) return next();
    const { project } = oauthLocals(res);
    const checked = await dpop.check(project, proof, { method: req.method, url: `${project.oauthBase}/token` });
    if (checked.nonce !== undefined) res.setHeader('DPoP-Nonce', checked.nonce);
    dpopLocals(res).dpop = checked;
    next();
  };
}

/**
 * Once the client has authenticated: its proof is marked used (single use), and a client registered with
 * `dpopBoundAccessTokens: true` must have sent one (RFC 9449 §5.2).
 * @param dpop - the proof checker
 * @returns the step
 */
function dpopUse(dpop: DpopProofs): RequestHandler {
  return async function dpopUseStep(_req: Request, res: Response, next: NextFunction): Promise<void> {
    const { client, project } = oauthLocals(res);
    const proof = dpopLocals(res).dpop;
    if (proof) await dpop.markUsed(project, proof);
    else if (client.client.dpopBoundAccessTokens === true) throw new InvalidDpopProofError('This client must send a DPoP proof with every token request');
    next();
  };
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
    const response = await grant.handle({ deps, keys, project, auth: client, body: params, dpopJkt: dpopLocals(res).dpop?.jkt });
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
 * @param dpop - the DPoP proof checker
 * @returns its middleware, in order
 */
export function tokenEndpoint(deps: OAuthDeps, keys: KeyStore, dpop: DpopProofs): RequestHandler[] {
  return [
    noCache,
    loadProject(deps),
    parseForm,
    supportedGrantType,
    dpopProof(dpop),
    refreshTokenClient(deps),
    clientAuthentication(deps, 'token'),
    allowedGrantType,
    dpopUse(dpop),
    callGrant(deps, keys),
  ];
}
