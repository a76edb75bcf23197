/**
 * CORS for browser apps (SMART App Launch 2.x: "browser apps work cross-origin"; Fetch standard §3.2).
 *
 * Public documents ({@link publicCors}): the SMART configuration, the OpenID/RFC 8414 discovery documents, the JWKS
 * and `{FHIR base}/metadata` hold nothing private and need no credentials, so any origin may read them:
 * - `Access-Control-Allow-Origin: *` on every response (no `Vary: Origin`: the answer does not depend on it), with
 *   `Access-Control-Expose-Headers`; never `Access-Control-Allow-Credentials` (a browser refuses `*` with it);
 * - a preflight is answered with 204, `*`, the methods, the allowed headers and `Access-Control-Max-Age`.
 *
 * Everything else CORS-enabled ({@link cors}): the token, userinfo, introspection, revocation and launch endpoints
 * and the FHIR API — never the authorize, login, consent and logout pages:
 * - an `Origin` allowed for the project (http/cors-origins.ts) gets `Access-Control-Allow-Origin: <origin>` and
 *   `Access-Control-Expose-Headers`; any other origin gets no CORS header at all;
 * - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here with 204 before
 *   any authentication (browsers never send credentials on a preflight): for an allowed origin with the allowed
 *   methods and headers and `Access-Control-Max-Age`, for any other origin without CORS headers;
 * - `Access-Control-Allow-Credentials` is never sent: apps authenticate with bearer tokens, not cookies;
 * - `Vary: Origin` on every response of these paths, as the CORS headers depend on it.
 * An unknown tenant or project gets no CORS headers; the route behind answers 404.
 * The first CORS step a request meets decides (`res.locals.corsHandled`), so a public path mounted first keeps `*`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ProjectRegistry } from '../tenancy/projects';
import type { AllowedOrigins } from './cors-origins';

/** Request headers a browser app may send. */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'DPoP',
  'Content-Type',
  'Accept',
  'If-Match',
  'If-None-Match',
  'If-None-Exist',
  'If-Modified-Since',
  'Prefer',
  'X-Request-Id',
];

/** Response headers a browser app may read. */
export const CORS_EXPOSED_HEADERS = ['Location', 'ETag', 'Content-Location', 'Last-Modified', 'WWW-Authenticate', 'DPoP-Nonce'];

/** How long a browser may cache a preflight answer (seconds). */
export const CORS_MAX_AGE_SECONDS = 600;

/** Whether the request is a CORS preflight (an `OPTIONS` naming the method it is for). */
function isPreflight(req: Request): boolean {
  return req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
}

/**
 * The CORS middleware of public documents: any origin, no credentials.
 * @param methods - the methods those paths serve (listed in `Access-Control-Allow-Methods`)
 * @returns the middleware
 */
export function publicCors(methods: readonly string[]): RequestHandler {
  const allowMethods = methods.join(', ');
  return function publicCorsStep(req: Request, res: Response, next: NextFunction): void {
    res.locals.corsHandled = true;
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS.join(', '));
    if (!isPreflight(req)) return next();
    res.setHeader('Access-Control-Allow-Methods', allowMethods);
    res.setHeader('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS.join(', '));
    res.setHeader('Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS));
    res.status(204).end();
  };
}

/** What a CORS-enabled path needs. */
export interface CorsDeps {
  projects: ProjectRegistry;
  origins: AllowedOrigins;
}

/**
 * The CORS middleware of a group of paths mounted with `:tenant` and `:project` parameters.
 * @param deps - the project registry and the allowed-origin cache
 * @param methods - the methods those paths serve (listed in `Access-Control-Allow-Methods`)
 * @returns the middleware
 */
export function cors(deps: CorsDeps, methods: readonly string[]): RequestHandler {
  const allowMethods = methods.join(', ');
  // Synchronous until an `Origin` needs the project's allowed origins: most API calls carry none, and a plain
  // function spares them a promise.
  const withOrigin = async (req: Request, res: Response, next: NextFunction, origin: string): Promise<void> => {
    const project = await deps.projects.find(String(req.params.tenant), String(req.params.project));
    if (!project) return next();
    const allowed = await deps.origins.allows(project.key, origin);
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS.join(', '));
    }
    if (!isPreflight(req)) return next();
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', allowMethods);
      res.setHeader('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS.join(', '));
      res.setHeader('Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS));
      res.vary('Access-Control-Request-Method').vary('Access-Control-Request-Headers');
    }
    res.status(204).end();
  };
  return function corsStep(req: Request, res: Response, next: NextFunction): void | Promise<void> {
    // A public document (mounted first) has decided already.
    if (res.locals.corsHandled === true) return next();
    res.locals.corsHandled = true;
    if (res.getHeader('Vary') === undefined) res.setHeader('Vary', 'Origin');
    else res.vary('Origin');
    const { origin } = req.headers;
    if (origin === undefined) return next();
    return withOrigin(req, res, next, origin);
  };
}
