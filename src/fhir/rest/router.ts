/**
 * The FHIR REST router, mounted at `/w/{tenant}/{project}/api/v1/fhir/r4`.
 * Resolves the project (unknown tenant or project → 404), enforces JSON-only content negotiation, parses
 * bodies, and dispatches each interaction to a thin handler whose result `sendFhirResponse` writes.
 */
import { type NextFunction, type Request, type Response, Router } from 'express';
import type { Config } from '../../config/schema';
import { jsonBody } from '../../http/body';
import { requireContentType, requireJsonResponse } from '../../http/content-negotiation';
import type { ResourceStore } from '../../storage/ports';
import type { ProjectRegistry } from '../../tenancy/projects';
import { MethodNotAllowedError, ResourceNotFoundError } from '../errors';
import { FhirRepository } from '../repository/repository';
import { buildCapabilityStatement } from './capabilities';
import { createHandler, deleteHandler, patchHandler, readHandler, updateHandler, vreadHandler } from './crud';
import { historyHandlers } from './history';
import { type FhirResponse, sendFhirResponse } from './respond';

/** The FHIR base path pattern (Express 5 syntax). */
export const FHIR_BASE_PATH = '/w/:tenant/:project/api/v1/fhir/r4';

/** Dependencies of the FHIR router. */
export interface FhirRouterDeps {
  config: Config;
  resources: ResourceStore;
  projects: ProjectRegistry;
}

/**
 * The absolute FHIR base URL of a project.
 * @param publicUrl - PUBLIC_URL
 * @param tenant - tenant slug
 * @param project - project slug
 * @returns the base URL
 */
export function fhirBaseUrl(publicUrl: string, tenant: string, project: string): string {
  return `${publicUrl}/w/${tenant}/${project}/api/v1/fhir/r4`;
}

function handle(fn: (req: Request) => Promise<FhirResponse> | FhirResponse) {
  return async (req: Request, res: Response): Promise<void> => {
    sendFhirResponse(req, res, await fn(req));
  };
}

/**
 * Builds the router.
 * @param deps - configuration, stores and the project registry
 * @returns the Express router
 */
export function fhirRouter(deps: FhirRouterDeps): Router {
  const { config } = deps;
  const router = Router({ mergeParams: true });
  const history = historyHandlers(config);
  const startedAt = new Date().toISOString();
  const capabilities = new Map<string, Record<string, unknown>>();
  const body = jsonBody(config.bodyLimitBytes);
  const resourceContent = requireContentType(['application/fhir+json', 'application/json', 'application/json+fhir']);
  const patchContent = requireContentType(['application/json-patch+json']);

  router.use(async (req: Request, _res: Response, next: NextFunction) => {
    const tenant = String(req.params.tenant);
    const name = String(req.params.project);
    const project = await deps.projects.find(tenant, name);
    if (!project) throw new ResourceNotFoundError(`Unknown tenant or project '${tenant}/${name}'`);
    req.fhir = {
      project,
      repo: new FhirRepository(deps.resources, project.key),
      baseUrl: fhirBaseUrl(config.publicUrl, project.tenant, project.name),
    };
    next();
  });
  router.use(requireJsonResponse());

  router.get('/metadata', handle((req) => {
    let statement = capabilities.get(req.fhir.baseUrl);
    if (!statement) {
      statement = buildCapabilityStatement(req.fhir.baseUrl, startedAt) as unknown as Record<string, unknown>;
      capabilities.set(req.fhir.baseUrl, statement);
    }
    return { status: 200, body: statement };
  }));
  router.get('/_history', handle(history.system));
  router.get('/:type/_history', handle(history.type));
  router.get('/:type/:id/_history', handle(history.instance));
  router.get('/:type/:id/_history/:vid', handle(vreadHandler));
  router.get('/:type/:id', handle(readHandler));
  router.post('/:type', resourceContent, body, handle(createHandler));
  router.put('/:type/:id', resourceContent, body, handle(updateHandler));
  router.patch('/:type/:id', patchContent, body, handle(patchHandler));
  router.delete('/:type/:id', handle(deleteHandler));
  router.all('/:type/:id', () => {
    throw new MethodNotAllowedError('Allowed on an instance: GET, PUT, PATCH, DELETE');
  });
  return router;
}
