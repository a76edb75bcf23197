/**
 * The FHIR context of one caller for one request, for code outside the FHIR router that must judge FHIR access
 * exactly as the API would (the EHR launch endpoint, the patient picker): the caller's principal and policies,
 * optionally a token's scopes, and the access-controlled repository bound to the request.
 */
import type { Config } from '../../config/schema';
import type { AuthContext } from '../../oauth/bearer';
import { loadPrincipal, type PrincipalClaims, policyCacheFor, repositoryAttributeFetcher } from '../../policy';
import type { PolicyRequest } from '../../policy/types';
import type { ResourceStore } from '../../storage/ports';
import type { ProjectRegistry } from '../../tenancy/projects';
import { FhirRepository } from '../repository/repository';
import { fhirBaseUrl } from '../rest/base-url';
import type { FhirContext } from '../rest/fhir-request';
import { AccessControlledRepository } from './access-controlled-repository';
import type { ScopeGate } from './scope-gate';

/** What building the context needs. */
export interface CallerContextDeps {
  config: Config;
  storage: { resources: ResourceStore };
  projects: ProjectRegistry;
}

/**
 * Builds the context.
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
  const store = deps.storage.resources;
  const principal = await loadPrincipal(policyCacheFor(store), store, claims);
  const ctx: FhirContext = {
    project,
    repo: new AccessControlledRepository(new FhirRepository(store, projectKey), principal, options.scopes),
    baseUrl: fhirBaseUrl(deps.config.publicUrl, tenant, name),
    config: deps.config,
    ...(options.auth ? { auth: options.auth } : {}),
  };
  ctx.repo = ctx.repo.forRequest(request, () => repositoryAttributeFetcher(ctx));
  return ctx;
}
