/**
 * How callers get their access-controlled repository: the FHIR router for each request, and code outside the router
 * that must judge FHIR access exactly as the API would (the EHR launch endpoint, the patient picker). The store
 * stays inside the access layer; callers name a project, who is asking and, for a token, its scopes.
 */
import type { Config } from '../../config/schema';
import type { AuthContext } from '../../oauth/bearer';
import { loadPrincipal, type PrincipalClaims, policyCacheFor } from '../../policy';
import type { PolicyRequest } from '../../policy/types';
import type { ResourceStore } from '../../storage/ports';
import type { ProjectRegistry } from '../../tenancy/projects';
import { RequestBudget } from '../budget';
import { FhirRepository } from '../repository/repository';
import { fhirBaseUrl } from '../rest/base-url';
import type { FhirContext } from '../rest/fhir-request';
import { AccessControlledRepository, ANONYMOUS } from './access-controlled-repository';
import type { ScopeGate } from './scope-gate';

/** Makes the access-controlled repositories of callers over one store. */
export class CallerAccess {
  /** @param store - the resource store */
  constructor(private readonly store: ResourceStore) {}

  /**
   * The repository of one caller in one project, not yet bound to a request.
   * @param projectKey - `tenant/project`
   * @param claims - who is asking (undefined: nobody — public paths, denied everything)
   * @param scopes - the token's scopes (undefined: the caller's own access, not a token's)
   * @returns the repository
   */
  async repository(projectKey: string, claims: PrincipalClaims | undefined, scopes?: ScopeGate): Promise<AccessControlledRepository> {
    const { store } = this;
    const cache = policyCacheFor(store);
    const principal = claims ? await loadPrincipal(cache, store, claims) : ANONYMOUS;
    return new AccessControlledRepository(new FhirRepository(store, projectKey), principal, {
      scopes,
      principals: (other) => loadPrincipal(cache, store, other),
    });
  }
}

/** What building a context outside the router needs. */
export interface CallerContextDeps {
  config: Config;
  storage: { resources: ResourceStore };
  projects: ProjectRegistry;
}

/**
 * The FHIR context of one caller for one request, outside the FHIR router.
 * @param deps - configuration, the resource store and the project registry
 * @param projectKey - `tenant/project`
 * @param claims - who the caller is
 * @param request - the request judged
 * @param options - a token's scopes (none: the caller's own access, not a token's) and its AuthContext
 * @returns the context, or undefined for an unknown project
 */
export async function callerContext(
  deps: CallerContextDeps,
  projectKey: string,
  claims: PrincipalClaims,
  request: PolicyRequest,
  options: { scopes?: ScopeGate; auth?: AuthContext } = {},
): Promise<FhirContext | undefined> {
  const [tenant = '', name = ''] = projectKey.split('/');
  const project = await deps.projects.find(tenant, name);
  if (!project) return undefined;
  const repo = await new CallerAccess(deps.storage.resources).repository(projectKey, claims, options.scopes);
  const budget = new RequestBudget(deps.config.maxResponseBytes, deps.config.requestTimeoutMs);
  const context = { project, baseUrl: fhirBaseUrl(deps.config.publicUrl, tenant, name), config: deps.config, budget };
  return { ...context, repo: repo.forRequest(request, context), ...(options.auth ? { auth: options.auth } : {}) };
}
