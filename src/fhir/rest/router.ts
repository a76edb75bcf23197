/**
 * The HTTP adapter of the FHIR API, mounted at `/w/{tenant}/{project}/api/v1/fhir/r4` as one handler.
 * Resolves the project (unknown tenant or project → 404), authenticates the bearer token and loads the caller,
 * turns the Express request into a {@link FhirRequest}, enforces JSON-only responses, reads the body when there
 * is one, and lets `dispatch()` run it.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../../config/schema';
import { fhirBodyReader, hasBody } from '../../http/body';
import { assertJsonResponse } from '../../http/content-negotiation';
import type { Project, ProjectRegistry } from '../../tenancy/projects';
import { RequestBudget } from '../budget';
import { FhirError, ResourceNotFoundError, UnauthorizedError } from '../errors';
import type { AuthContext, BearerAuthenticator, DpopRequest } from '../../oauth/bearer';
import { asDpopChallenge, OAuthError } from '../../oauth/errors';
import { type OAuthProject, oauthProjectOf } from '../../oauth/project';
import type { Caller } from '../../audit/events';
import type { CallerAccess, UnauthenticatedRequest } from '../access/caller-context';
import { ScopeGate } from '../access/scope-gate';
import type { BulkExports } from '../bulk/bulk-exports';
import { fhirBaseUrl } from './base-url';
import { dispatch } from './dispatch';
import type { FhirContext, FhirRequest, ProjectLifecycle } from './fhir-request';
import { sendFhirResponse } from './respond';

export { FHIR_BASE_PATH, fhirBaseUrl } from './base-url';

/** Dependencies of the FHIR router. */
export interface FhirRouterDeps {
  config: Config;
  /** Makes each caller's access-controlled repository (the only way to the stored resources). */
  access: CallerAccess;
  projects: ProjectRegistry;
  bearer: BearerAuthenticator;
  /** Provisions projects created through the system project's `Project` resources. */
  provisioner?: ProjectLifecycle;
  /** The bulk export service (`$export`). */
  bulk?: BulkExports;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      fhir: FhirContext;
    }
  }
}


/**
 * A request header by its lower-case name (Node joins repeated ones with `, `).
 * @param req - the request
 * @param name - the lower-case header name
 * @returns its value, or undefined
 */
function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `.`, `..` or their percent-encoded forms as a whole path segment. */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Converts an Express request (under the FHIR base) into a FhirRequest.
 * @param req - the Express request (`body` is whatever was read so far)
 * @returns the FHIR request
 */
export function toFhirRequest(req: Request): FhirRequest {
  const queryAt = req.url.indexOf('?');
  const rawPath = queryAt < 0 ? req.url : req.url.slice(0, queryAt);
  // Dot segments would name another path (`Patient/..` is the base, a system search): refuse them.
  if (DOT_SEGMENT.test(rawPath)) throw new ResourceNotFoundError('Dot segments are not allowed in FHIR paths');
  let path: string[];
  try {
    path = rawPath.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    throw new ResourceNotFoundError('The request path is not valid percent-encoding');
  }
  return {
    method: req.method.toUpperCase(),
    path,
    query: queryAt < 0 ? [] : [...new URLSearchParams(req.url.slice(queryAt + 1)).entries()],
    contentType: header(req, 'content-type')?.split(';')[0]?.trim().toLowerCase(),
    body: req.body as unknown,
    headers: {
      ifMatch: header(req, 'if-match'),
      ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'),
      ifNoneExist: header(req, 'if-none-exist'),
      prefer: header(req, 'prefer'),
    },
  };
}

/**
 * Who is calling, as decision events name it.
 * @param auth - the authenticated token
 * @param ip - the client address (`req.ip`: TRUST_PROXY decides whether X-Forwarded-For counts)
 * @returns the caller
 */
function callerOf(auth: AuthContext, ip: string | undefined): Omit<Caller, 'project'> {
  const caller: Omit<Caller, 'project'> = { clientId: auth.clientId };
  if (auth.userId !== undefined) caller.userId = auth.userId;
  if (auth.fhirUser !== undefined) caller.fhirUser = auth.fhirUser;
  if (auth.patient !== undefined) caller.patient = auth.patient;
  if (auth.role !== undefined) caller.role = auth.role;
  if (ip !== undefined) caller.ip = ip;
  return caller;
}

/**
 * A request that failed authentication, as its decision event describes it (never the Authorization header).
 * @param req - the request
 * @param reason - why it failed
 * @returns the description
 */
function unauthenticatedRequest(req: Request, reason: string): UnauthenticatedRequest {
  const queryAt = req.url.indexOf('?');
  return {
    method: req.method.toUpperCase(),
    path: (queryAt < 0 ? req.url : req.url.slice(0, queryAt)).replace(/^\/+/, ''),
    query: queryAt < 0 ? [] : [...new URLSearchParams(req.url.slice(queryAt + 1)).entries()],
    reason,
    ...(req.ip !== undefined ? { ip: req.ip } : {}),
  };
}

/** `GET [base]/$export-file`: the one response that is not JSON. */
function isExportFile(req: FhirRequest): boolean {
  return req.path.length === 1 && req.path[0] === '$export-file' && (req.method === 'GET' || req.method === 'HEAD');
}

/**
 * The URL a request was sent to, as clients know it: PUBLIC_URL and the path the server received (what a DPoP
 * proof's `htu` names; the query is left out).
 * @param publicUrl - PUBLIC_URL
 * @param originalUrl - the request's path and query
 * @returns the URL
 */
function publicRequestUrl(publicUrl: string, originalUrl: string): string {
  const queryAt = originalUrl.indexOf('?');
  return `${publicUrl}${queryAt < 0 ? originalUrl : originalUrl.slice(0, queryAt)}`;
}

/** Paths under the FHIR base that need no token. */
const PUBLIC_PATHS = new Set(['/metadata', '/.well-known/smart-configuration']);

/**
 * Authenticates the bearer token of a FHIR request. What the caller may do is decided per interaction by the
 * access-controlled repository.
 * @param bearer - the bearer authenticator
 * @param header - the Authorization header
 * @param project - the project
 * @param dpopRequest - the request as a `DPoP` token needs it
 * @returns the caller
 * @throws UnauthorizedError (401 with `WWW-Authenticate`, and `DPoP-Nonce` when a DPoP nonce is required)
 */
async function authenticate(bearer: BearerAuthenticator, header: string | undefined, project: OAuthProject, dpopRequest: () => DpopRequest): Promise<AuthContext> {
  let auth: AuthContext;
  try {
    auth = await bearer.authenticate(header, project, dpopRequest);
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    const error = new UnauthorizedError(err.description);
    error.headers = { ...err.headers };
    throw error;
  }
  return auth;
}

/**
 * Builds the FHIR API handler: one step per request (project, token, caller, content negotiation, body, then
 * the interaction), so a read passes through no more middleware than it needs.
 * @param deps - configuration, stores and the project registry
 * @returns the Express handler, mounted at {@link FHIR_BASE_PATH}
 */
export function fhirRouter(deps: FhirRouterDeps): RequestHandler {
  const { config } = deps;
  const readBody = fhirBodyReader(config.bodyLimitBytes);
  // A project's URLs, made once per project (the registry hands out the same Project object every time).
  const urls = new WeakMap<Project, { oauth: OAuthProject; baseUrl: string }>();
  const urlsOf = (project: Project): { oauth: OAuthProject; baseUrl: string } => {
    let found = urls.get(project);
    if (!found) {
      found = { oauth: oauthProjectOf(config.publicUrl, project), baseUrl: fhirBaseUrl(config.publicUrl, project.tenant, project.name) };
      urls.set(project, found);
    }
    return found;
  };
  return async function fhirApi(req: Request, res: Response): Promise<void> {
    const tenant = String(req.params.tenant);
    const name = String(req.params.project);
    const project = await deps.projects.find(tenant, name);
    if (!project) throw new ResourceNotFoundError(`Unknown tenant or project '${tenant}/${name}'`);
    const { oauth, baseUrl } = urlsOf(project);
    let auth: AuthContext | undefined;
    if (!PUBLIC_PATHS.has(req.path)) {
      try {
        auth = await authenticate(deps.bearer, header(req, 'authorization'), oauth, () => ({
          method: req.method,
          url: publicRequestUrl(config.publicUrl, req.originalUrl),
          proof: header(req, 'dpop'),
          nonce: (value) => res.setHeader('DPoP-Nonce', value),
        }));
      } catch (err) {
        if (err instanceof UnauthorizedError) deps.access.unauthenticated(project.key, unauthenticatedRequest(req, err.message));
        throw err;
      }
    }
    if (auth) {
      req.ctx.clientId = auth.clientId;
      req.ctx.userId = auth.userId;
    }
    req.fhir = {
      project,
      repo: await deps.access.repository(project.key, auth, new ScopeGate(auth?.scopes ?? [], auth?.patient, baseUrl), auth && callerOf(auth, req.ip)),
      baseUrl,
      config,
      budget: new RequestBudget(config.maxResponseBytes, config.requestTimeoutMs),
      auth,
      ...(deps.provisioner ? { provisioner: deps.provisioner } : {}),
      ...(deps.bulk ? { bulk: deps.bulk } : {}),
    };
    const fhirRequest = toFhirRequest(req);
    // Export files are NDJSON (requested with `Accept: application/fhir+ndjson`); everything else is JSON.
    if (!isExportFile(fhirRequest)) assertJsonResponse(fhirRequest.query.find(([key]) => key === '_format')?.[1], header(req, 'accept'));
    const withBody = hasBody(req);
    if (withBody) {
      await readBody(req, res);
      fhirRequest.body = req.body;
    }
    let result: Awaited<ReturnType<typeof dispatch>>;
    try {
      result = await dispatch(req.fhir, fhirRequest, { checkContentType: withBody || ['POST', 'PUT', 'PATCH'].includes(fhirRequest.method) });
    } catch (err) {
      // A DPoP-bound token's challenges (insufficient_scope) use the DPoP scheme (RFC 9449 §7.1).
      const challenge = auth?.jkt !== undefined && err instanceof FhirError ? err.headers['WWW-Authenticate'] : undefined;
      if (challenge !== undefined) (err as FhirError).headers = { ...(err as FhirError).headers, 'WWW-Authenticate': asDpopChallenge(challenge) };
      throw err;
    }
    await sendFhirResponse(res, result, fhirRequest.headers.prefer);
  };
}
