/**
 * Steps shared by the JSON endpoints (token, introspection, revocation). Each endpoint is a named middleware
 * array built from these; steps only throw, and `oauthJsonErrors` renders what they throw.
 * - responses are never cached (RFC 6749 §5.1);
 * - bodies must be `application/x-www-form-urlencoded` (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1), and no
 *   parameter may be repeated (§3.2: "MUST NOT be included more than once");
 * - the client authenticates (clients/client-auth.ts); a client assertion's `aud` must be the token endpoint URL,
 *   the issuer, or the URL of the endpoint called.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { type AuthenticatedClient, authenticateClient } from '../clients/client-auth';
import type { DpopRequest } from '../bearer';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError } from '../errors';
import { type OAuthProject, resolveProject } from '../project';

/** What the steps leave in `res.locals` for the next ones. */
export interface OAuthLocals {
  project: OAuthProject;
  /** The form parameters, each a single string. */
  params: Record<string, string>;
  client: AuthenticatedClient;
}

/**
 * The state the earlier steps stored.
 * @param res - the response
 * @returns the locals (fields set by steps that have run)
 */
export function oauthLocals(res: Response): OAuthLocals {
  return res.locals as OAuthLocals;
}

/** Sets `Cache-Control: no-store` and `Pragma: no-cache` on every response, errors included. */
export function noCache(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
}

const urlencoded = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 50 });

/** Parses the form body; anything else is `invalid_request`. Repeated parameters are refused. */
export function parseForm(req: Request, res: Response, next: NextFunction): void {
  urlencoded(req, res, (err?: unknown) => {
    if (err) return next(err);
    if (!req.is('application/x-www-form-urlencoded')) return next(new InvalidRequestError('The body must be application/x-www-form-urlencoded'));
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
      if (typeof value !== 'string') return next(new InvalidRequestError(`Parameter '${name.slice(0, 64)}' is repeated`));
      params[name] = value;
    }
    oauthLocals(res).params = params;
    next();
  });
}

/**
 * Resolves the project of `/w/:tenant/:project/...` (unknown → 404 `not_found`).
 * @param deps - OAuth dependencies
 * @returns the step
 */
export function loadProject(deps: OAuthDeps): RequestHandler {
  return async function loadProjectStep(req: Request, res: Response, next: NextFunction): Promise<void> {
    oauthLocals(res).project = await resolveProject(deps, req);
    next();
  };
}

/**
 * Authenticates the client; its assertions must be addressed to the token endpoint, the issuer or this endpoint.
 * @param deps - OAuth dependencies
 * @param endpoint - the endpoint's path segment (`token`, `introspect`, `revoke`)
 * @returns the step
 */
export function clientAuthentication(deps: OAuthDeps, endpoint: string): RequestHandler {
  return async function clientAuthenticationStep(req: Request, res: Response, next: NextFunction): Promise<void> {
    const locals = oauthLocals(res);
    const { issuer, oauthBase } = locals.project;
    // Only a client assertion looks at the audiences.
    const audiences = locals.params.client_assertion === undefined ? [] : [...new Set([`${oauthBase}/token`, issuer, `${oauthBase}/${endpoint}`])];
    locals.client = await authenticateClient(deps, locals.project, req.headers.authorization, locals.params, audiences);
    req.ctx.clientId = locals.client.client.id;
    next();
  };
}

/**
 * The request as a `DPoP` token presented to an OAuth endpoint (userinfo, launch) needs it.
 * @param req - the request
 * @param res - the response (receives `DPoP-Nonce` when nonces are required)
 * @param url - the endpoint's public URL
 * @returns the request
 */
export function endpointDpopRequest(req: Request, res: Response, url: string): DpopRequest {
  return { method: req.method, url, proof: req.get('dpop'), nonce: (value) => res.setHeader('DPoP-Nonce', value) };
}
