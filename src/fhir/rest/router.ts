/**
 * The HTTP adapter of the FHIR API, mounted at `/w/{tenant}/{project}/api/v1/fhir/r4`.
 * Resolves the project (unknown tenant or project → 404), enforces JSON-only responses, parses the body,
 * turns the Express request into a {@link FhirRequest}, and lets `dispatch()` run it.
 */
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { Config } from '../../config/schema';
import { jsonBody } from '../../http/body';
import { requireJsonResponse } from '../../http/content-negotiation';
import type { ResourceStore } from '../../storage/ports';
import type { ProjectRegistry } from '../../tenancy/projects';
import { BadRequestError, PayloadTooLargeError, ResourceNotFoundError, UnauthorizedError } from '../errors';
import { FhirRepository } from '../repository/repository';
import type { AuthContext, BearerAuthenticator } from '../../oauth/bearer';
import { OAuthError } from '../../oauth/errors';
import { oauthProjectOf } from '../../oauth/project';
import { loadPrincipal, policyCacheFor } from '../../policy';
import { AccessControlledRepository, ANONYMOUS } from '../access/access-controlled-repository';
import { ScopeGate } from '../access/scope-gate';
import { fhirBaseUrl } from './base-url';
import { dispatch } from './dispatch';
import type { FhirContext, FhirRequest } from './fhir-request';
import { sendFhirResponse } from './respond';

/** Most parameters in a form-encoded `_search` body. */
export const FORM_PARAMETER_LIMIT = 1000;

export { FHIR_BASE_PATH, fhirBaseUrl } from './base-url';

/** Dependencies of the FHIR router. */
export interface FhirRouterDeps {
  config: Config;
  resources: ResourceStore;
  projects: ProjectRegistry;
  bearer: BearerAuthenticator;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      fhir: FhirContext;
    }
  }
}


function header(req: Request, name: string): string | undefined {
  return req.get(name) ?? undefined;
}

/**
 * Converts an Express request (under the FHIR base) into a FhirRequest.
 * @param req - the Express request
 * @returns the FHIR request
 */
export function toFhirRequest(req: Request): FhirRequest {
  // URL parsing would resolve dot segments (`Patient/..` → the base, a system search): refuse them instead.
  if ((req.url.split('?')[0] ?? '').split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment))) {
    throw new ResourceNotFoundError('Dot segments are not allowed in FHIR paths');
  }
  const url = new URL(req.url, 'http://local');
  let path: string[];
  try {
    path = url.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    throw new ResourceNotFoundError('The request path is not valid percent-encoding');
  }
  return {
    method: req.method.toUpperCase(),
    path,
    query: [...url.searchParams.entries()],
    contentType: req.get('content-type')?.split(';')[0]?.trim().toLowerCase(),
    body: req.body,
    headers: {
      ifMatch: header(req, 'if-match'),
      ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'),
      ifNoneExist: header(req, 'if-none-exist'),
      prefer: header(req, 'prefer'),
    },
  };
}

/** Paths under the FHIR base that need no token. */
const PUBLIC_PATHS = new Set(['/metadata', '/.well-known/smart-configuration']);

/**
 * Authenticates the bearer token of a FHIR request. What the caller may do is decided per interaction by the
 * access-controlled repository.
 * @param bearer - the bearer authenticator
 * @param header - the Authorization header
 * @param project - the project
 * @returns the caller
 * @throws UnauthorizedError (401 with `WWW-Authenticate`)
 */
async function authenticate(bearer: BearerAuthenticator, header: string | undefined, project: ReturnType<typeof oauthProjectOf>): Promise<AuthContext> {
  let auth: AuthContext;
  try {
    auth = await bearer.authenticate(header, project);
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    const error = new UnauthorizedError(err.description);
    error.headers = { ...err.headers };
    throw error;
  }
  return auth;
}

/**
 * Builds the router.
 * @param deps - configuration, stores and the project registry
 * @returns the Express router
 */
export function fhirRouter(deps: FhirRouterDeps): Router {
  const { config } = deps;
  const router = Router({ mergeParams: true });
  router.use(async (req: Request, _res: Response, next: NextFunction) => {
    const tenant = String(req.params.tenant);
    const name = String(req.params.project);
    const project = await deps.projects.find(tenant, name);
    if (!project) throw new ResourceNotFoundError(`Unknown tenant or project '${tenant}/${name}'`);
    const auth = PUBLIC_PATHS.has(req.path) ? undefined : await authenticate(deps.bearer, req.get('authorization'), oauthProjectOf(config.publicUrl, project));
    const principal = auth ? await loadPrincipal(policyCacheFor(deps.resources), deps.resources, auth) : ANONYMOUS;
    const baseUrl = fhirBaseUrl(config.publicUrl, project.tenant, project.name);
    req.fhir = {
      project,
      repo: new AccessControlledRepository(new FhirRepository(deps.resources, project.key), principal, new ScopeGate(auth?.scopes ?? [], auth?.patient, baseUrl)),
      baseUrl,
      config,
      auth,
    };
    next();
  });
  router.use(requireJsonResponse());
  router.use(jsonBody(config.bodyLimitBytes));
  // `POST _search` bodies. extended: false keeps every name verbatim (`a[b]=c` stays the name `a[b]`): form
  // names are search parameter names, never object paths.
  router.use(express.urlencoded({ extended: false, limit: config.bodyLimitBytes, parameterLimit: FORM_PARAMETER_LIMIT }));
  router.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const type = (err as { type?: unknown } | null)?.type;
    if (type === 'parameters.too.many') next(new PayloadTooLargeError(`A _search body may carry at most ${FORM_PARAMETER_LIMIT} parameters`));
    else if (type === 'querystring.parse.rangeError') next(new BadRequestError('The _search body is not valid form encoding'));
    else next(err);
  });
  router.use(async (req: Request, res: Response) => {
    const fhirRequest = toFhirRequest(req);
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const result = await dispatch(req.fhir, fhirRequest, { checkContentType: hasBody || ['POST', 'PUT', 'PATCH'].includes(fhirRequest.method) });
    sendFhirResponse(res, result, fhirRequest.headers.prefer);
  });
  return router;
}
