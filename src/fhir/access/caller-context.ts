/**
 * How callers get their access-controlled repository: the FHIR router for each request, and code outside the router
 * that must judge FHIR access exactly as the API would (the EHR launch endpoint, the patient picker). The store
 * stays inside the access layer; callers name a project, who is asking and, for a token, its scopes.
 */
import { auditQuery, type Caller, type DecisionListener, NO_AUDIT } from '../../audit/events';
import type { Config } from '../../config/schema';
import type { AuthContext } from '../../oauth/bearer';
import { loadPrincipal, type PrincipalClaims, policyCacheFor } from '../../policy';
import { describeRequest } from '../../policy/request';
import type { PolicyRequest } from '../../policy/types';
import type { ResourceStore } from '../../storage/ports';
import type { ProjectRegistry } from '../../tenancy/projects';
import { RequestBudget } from '../budget';
import { FhirRepository } from '../repository/repository';
import { fhirBaseUrl } from '../rest/base-url';
import type { FhirContext } from '../rest/fhir-request';
import { AccessControlledRepository, ANONYMOUS } from './access-controlled-repository';
import type { ScopeGate } from './scope-gate';

/** A request refused before any access decision: it did not authenticate. */
export interface UnauthenticatedRequest {
  method: string;
  /** The path under the FHIR base. */
  path: string;
  query: ReadonlyArray<readonly [string, string]>;
  /** Why (the server's description of the failure; never the credential). */
  reason: string;
  ip?: string;
}

/** Makes the access-controlled repositories of callers over one store. */
export class CallerAccess {
  /**
   * @param store - the resource store
   * @param decisions - where the decisions of the repositories' requests go
   */
  constructor(
    private readonly store: ResourceStore,
    private readonly decisions: DecisionListener = NO_AUDIT,
  ) {}

  /**
   * The repository of one caller in one project, not yet bound to a request.
   * @param projectKey - `tenant/project`
   * @param claims - who is asking (undefined: nobody — public paths, denied everything)
   * @param scopes - the token's scopes (undefined: the caller's own access, not a token's)
   * @param caller - who is asking, as decision events name it (unset: the requests' decisions are not recorded)
   * @returns the repository
   */
  async repository(projectKey: string, claims: PrincipalClaims | undefined, scopes?: ScopeGate, caller?: Omit<Caller, 'project'>): Promise<AccessControlledRepository> {
    const { store } = this;
    const cache = policyCacheFor(store);
    const principal = claims ? await loadPrincipal(cache, store, claims) : ANONYMOUS;
    const decisions = caller && this.decisions !== NO_AUDIT ? { listener: this.decisions, caller: { ...caller, project: projectKey } } : undefined;
    return new AccessControlledRepository(new FhirRepository(store, projectKey), principal, {
      scopes,
      principals: (other) => loadPrincipal(cache, store, other),
      decisions,
    });
  }

  /**
   * Records a FHIR request refused because it did not authenticate (401).
   * @param projectKey - `tenant/project`
   * @param request - what was asked, and why it was refused
   */
  unauthenticated(projectKey: string, request: UnauthenticatedRequest): void {
    if (this.decisions === NO_AUDIT) return;
    let described: PolicyRequest | undefined;
    try {
      described = describeRequest({ method: request.method, path: request.path.split('/').filter((s) => s !== ''), query: [] });
    } catch {
      described = undefined;
    }
    this.decisions.record({
      kind: 'rest',
      at: Date.now(),
      caller: { project: projectKey, ...(request.ip ? { ip: request.ip } : {}) },
      interaction: described?.interaction ?? 'unknown',
      ...(described?.resourceType !== undefined ? { resourceType: described.resourceType } : {}),
      ...(described?.id !== undefined ? { id: described.id } : {}),
      method: request.method,
      path: request.path,
      query: auditQuery(request.query),
      touched: [],
      outcome: { status: 401, decision: 'refused', refusedBy: 'authentication', detail: request.reason.slice(0, 300) },
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
