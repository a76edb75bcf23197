/**
 * The FHIR interaction route table and dispatcher, independent of HTTP. Each route names a method, a path
 * pattern over the segments after the FHIR base (`:name` captures a segment), the body media types it accepts,
 * and a thin handler. Unknown paths → 404; a known path with another method → 405.
 */
import { describeRequest, type RequestLine } from '../../policy/request';
import { recordDecision } from '../access/decision';
import { BadRequestError, ForbiddenError, MethodNotAllowedError, ResourceNotFoundError, UnsupportedMediaTypeError } from '../errors';
import type { PolicyRequest } from '../../policy/types';
import { bundleHandler } from './bundle';
import { capabilitiesHandler } from './capabilities';
import type { RouteParams } from './context';
import { createHandler, deleteHandler, patchHandler, readHandler, updateHandler, vreadHandler } from './crud';
import type { FhirContext, FhirRequest } from './fhir-request';
import { evaluatePolicyHandler } from './operations/evaluate-policy';
import {
  exportCancelHandler,
  exportFileHandler,
  exportGroupHandler,
  exportPatientHandler,
  exportStatusHandler,
  exportSystemHandler,
} from './operations/export';
import { instanceHistoryHandler, systemHistoryHandler, typeHistoryHandler } from './history';
import { conditionalDeleteHandler, conditionalUpdateHandler } from './conditional';
import {
  formParameters,
  searchCompartmentHandler,
  searchSystemHandler,
  searchSystemPostHandler,
  searchTypeHandler,
  searchTypePostHandler,
} from './search';
import type { FhirResponse } from './respond';

/** A handler of one interaction. */
export type FhirHandler = (ctx: FhirContext, req: FhirRequest, params: RouteParams) => Promise<FhirResponse>;

/** One entry of the route table. */
export interface FhirRoute {
  method: string;
  /** Segments; `:name` captures. */
  pattern: string[];
  handler: FhirHandler;
  /** Accepted body media types (checked only for requests that arrive over HTTP with a body). */
  accepts?: readonly string[];
}

/** Media types accepted for resource bodies. */
export const RESOURCE_MEDIA_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'] as const;
/** Media types accepted for PATCH bodies. */
export const PATCH_MEDIA_TYPES = ['application/json-patch+json'] as const;
/** Media types accepted for `POST _search` bodies. */
export const FORM_MEDIA_TYPES = ['application/x-www-form-urlencoded'] as const;

const route = (method: string, path: string, handler: FhirHandler, accepts?: readonly string[]): FhirRoute => ({
  method,
  pattern: path === '' ? [] : path.split('/'),
  handler,
  accepts,
});

/** The routes, most specific first. */
export const FHIR_ROUTES: FhirRoute[] = [
  route('GET', 'metadata', capabilitiesHandler),
  route('GET', '_history', systemHistoryHandler),
  route('GET', ':type/_history', typeHistoryHandler),
  route('GET', ':type/:id/_history', instanceHistoryHandler),
  route('GET', ':type/:id/_history/:vid', vreadHandler),
  route('GET', ':type/:id', readHandler),
  route('POST', ':type', createHandler, RESOURCE_MEDIA_TYPES),
  route('PUT', ':type/:id', updateHandler, RESOURCE_MEDIA_TYPES),
  route('PATCH', ':type/:id', patchHandler, PATCH_MEDIA_TYPES),
  route('DELETE', ':type/:id', deleteHandler),
  route('GET', '', searchSystemHandler),
  route('POST', '', bundleHandler, RESOURCE_MEDIA_TYPES),
  route('POST', '$evaluate-policy', evaluatePolicyHandler, RESOURCE_MEDIA_TYPES),
  route('GET', '$export', exportSystemHandler),
  route('POST', '$export', exportSystemHandler, RESOURCE_MEDIA_TYPES),
  route('GET', 'Patient/$export', exportPatientHandler),
  route('POST', 'Patient/$export', exportPatientHandler, RESOURCE_MEDIA_TYPES),
  route('GET', 'Group/:id/$export', exportGroupHandler),
  route('POST', 'Group/:id/$export', exportGroupHandler, RESOURCE_MEDIA_TYPES),
  route('GET', '$export-status', exportStatusHandler),
  route('DELETE', '$export-status', exportCancelHandler),
  route('GET', '$export-file', exportFileHandler),
  route('POST', '_search', searchSystemPostHandler, FORM_MEDIA_TYPES),
  route('GET', ':type', searchTypeHandler),
  route('POST', ':type/_search', searchTypePostHandler, FORM_MEDIA_TYPES),
  route('GET', 'Patient/:id/:compartmentType', searchCompartmentHandler),
  route('PUT', ':type', conditionalUpdateHandler, RESOURCE_MEDIA_TYPES),
  route('DELETE', ':type', conditionalDeleteHandler),
];

function match(pattern: string[], path: string[]): RouteParams | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: RouteParams = {};
  for (const [i, part] of pattern.entries()) {
    const segment = path[i] as string;
    if (part.startsWith(':')) {
      // A capture never swallows a reserved segment (`_history`, `_search`, `$op`, `metadata`).
      if (segment.startsWith('_') || segment.startsWith('$')) return undefined;
      params[part.slice(1)] = segment;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}

/**
 * Finds the route for a request.
 * @param req - the request
 * @param routes - the route table
 * @returns the route and its captured parameters
 */
export function findRoute(req: FhirRequest, routes: FhirRoute[] = FHIR_ROUTES): { route: FhirRoute; params: RouteParams } {
  let pathMatched = false;
  for (const candidate of routes) {
    const params = match(candidate.pattern, req.path);
    if (!params) continue;
    pathMatched = true;
    if (candidate.method === req.method || (req.method === 'HEAD' && candidate.method === 'GET')) return { route: candidate, params };
  }
  if (pathMatched) {
    const allowed = routes.filter((r) => match(r.pattern, req.path)).map((r) => r.method);
    throw new MethodNotAllowedError(`${req.method} is not allowed here; allowed: ${[...new Set(allowed)].join(', ')}`);
  }
  throw new ResourceNotFoundError(`No FHIR interaction at ${req.method} /${req.path.join('/')}`);
}

/**
 * The request as the policies see it (`%request`): the parameters of a `POST _search` form body are the search's
 * parameters, after the URL's, exactly as the search handler reads them.
 * @param req - the request
 * @returns the request line
 */
function policyLine(req: FhirRequest): RequestLine {
  if (req.method === 'POST' && req.path[req.path.length - 1] === '_search') return { ...req, query: [...req.query, ...formParameters(req.body)] };
  return req;
}

/**
 * Runs a request.
 * @param ctx - the project context
 * @param req - the request
 * @param options - `checkContentType`: enforce the route's media types (HTTP requests)
 * @returns the handler's response
 */
export async function dispatch(ctx: FhirContext, req: FhirRequest, options: { checkContentType?: boolean; bundleEntry?: boolean } = {}): Promise<FhirResponse> {
  // Every request (each Bundle entry too) is one decision event, emitted by the access layer when it has answered.
  return recordDecision(ctx.repo.decisions, { method: req.method, path: req.path, query: req.query, bundleEntry: options.bundleEntry }, async (note, subject) => {
    const { route: found, params } = findRoute(req);
    if (options.checkContentType && found.accepts && !found.accepts.includes(req.contentType ?? '')) {
      throw new UnsupportedMediaTypeError(
        `Content-Type '${req.contentType ?? '(none)'}' is not supported here; use ${found.accepts.join(' or ')}`,
      );
    }
    // Every request (each Bundle entry too) is judged as itself: bind the caller's repository to it.
    const context = { project: ctx.project, baseUrl: ctx.baseUrl, config: ctx.config, budget: ctx.budget };
    const line = policyLine(req);
    const request = describeRequest(line);
    subject({ interaction: request.interaction, resourceType: request.resourceType, id: request.id, query: line.query });
    const scoped: FhirContext = { ...ctx, repo: ctx.repo.forRequest(request, context, note) };
    if (request.resourceType !== 'Project' || !PROJECT_WRITES.has(request.interaction)) return found.handler(scoped, req, params);
    const projectRequest = projectWrite(ctx, req, request, options.bundleEntry === true);
    const response = await found.handler(scoped, projectRequest, params);
    if ((response.status === 201 || response.status === 200) && response.body && ctx.provisioner) {
      await ctx.provisioner.written(response.body as Record<string, unknown>, response.status === 201, { userId: ctx.auth?.userId, clientId: ctx.auth?.clientId });
    }
    return response;
  });
}

/** Interactions that write a Project. */
const PROJECT_WRITES: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete']);

/**
 * The rules of Project writes that no policy changes (docs/projects.md): only in the system project, one at a time
 * (never inside a batch or transaction: creating one provisions a whole project), never deleted (deactivated
 * instead). A create without an `owner` names the creating user.
 * @param ctx - the request's context
 * @param req - the request
 * @param request - the request as the policies see it
 * @param bundleEntry - the request is an entry of a Bundle
 * @returns the request to run
 */
function projectWrite(ctx: FhirContext, req: FhirRequest, request: PolicyRequest, bundleEntry: boolean): FhirRequest {
  const system = ctx.provisioner?.systemProject;
  if (system === undefined || ctx.project.key !== system) {
    throw new ForbiddenError(`Project resources live only in the system project${system ? ` (${system})` : ''}: create and manage projects there`);
  }
  if (bundleEntry) throw new BadRequestError('A Project cannot be written inside a batch or transaction: send it on its own');
  if (request.interaction === 'delete') {
    throw new MethodNotAllowedError('A Project is never deleted: deactivate it by setting status to inactive');
  }
  const body = req.body as Record<string, unknown> | undefined;
  if (request.interaction === 'create' && body && typeof body === 'object' && !Array.isArray(body) && body.owner === undefined && ctx.auth?.userId) {
    return { ...req, body: { ...body, owner: { reference: `User/${ctx.auth.userId}` } } };
  }
  return req;
}
