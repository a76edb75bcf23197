/**
 * The access-controlled repository: the one place where the caller's AccessPolicies (DESIGN §5.3-5.5,
 * docs/access-policies.md "Enforcement") are applied to FHIR interactions. Handlers and the search layer use it
 * and never judge access themselves.
 *
 * Each instance is bound to one caller and one request (`%request`); `dispatch()` binds a fresh instance to
 * every request it runs, including each entry of a batch or transaction. Before touching data it plans the
 * request (`planSearch`): when the policies decide the same for any resource (owners, admins, full-access
 * policies, rules for another type) no resource is judged; otherwise each resource is.
 *
 * Status codes (docs/access-policies.md "404 or 403"):
 * - the policies refuse the interaction on the type whatever the resource → 403 (nothing about a resource is
 *   revealed);
 * - they refuse a read, vread or instance history of a resource the caller may not see → 404, the same
 *   response as for an id that does not exist;
 * - they refuse an update, patch or delete → 403 when the caller may read the resource, 404 otherwise; a
 *   refused create → 403. A refused write changes nothing.
 * Searches and history return only what the caller may see, and their pages are filled after filtering.
 */
import type { HistoryQuery, ResourceDocument } from '../../storage/ports';
import { hasFullAccessRole, PolicySession } from '../../policy/decide';
import { planSearch, type SearchPlan } from '../../policy/search-plan';
import type { AttributeFetcher, PolicyPrincipal, PolicyRequest, PolicyResource } from '../../policy/types';
import { ForbiddenError, ResourceGoneError, ResourceNotFoundError } from '../errors';
import { type FhirRepository, type Resource, type WriteOptions, type WriteResult } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';
import { escalationReason, isAdministrator } from './escalation';

/** How a search or history request treats the resources it finds. */
export interface ResultAccess {
  /** Every resource found may be shown: no per-resource decision. */
  all: boolean;
  /**
   * Whether the caller may see one resource found.
   * @param doc - a stored (live) document
   * @returns true when it may be shown
   */
  accept(doc: ResourceDocument): Promise<boolean>;
}

/** Creates the attribute fetcher of a request (reads with the server's authority). */
export type FetcherFactory = () => AttributeFetcher;

/** The principal of requests without a token (`/metadata`): denied everything. */
export const ANONYMOUS: PolicyPrincipal = { project: '', kind: 'client', reference: 'anonymous', active: false, scopes: [], policies: [] };

const PERMIT_ALL: ResultAccess = { all: true, accept: () => Promise.resolve(true) };

const asPolicyResource = (resource: Resource): PolicyResource => toPublicView(resource) as PolicyResource;

/** A repository that applies one caller's access policies to one request. */
export class AccessControlledRepository {
  private readonly sessions = new Map<string, PolicySession>();
  private readonly plans = new Map<string, Promise<SearchPlan>>();
  private readonly administrator: boolean;
  /** Nothing to judge: an owner/admin user, or a caller whose every policy is full-access. */
  private readonly unrestricted: boolean;

  /**
   * @param inner - the repository underneath (unrestricted)
   * @param principal - the caller with its policies
   * @param request - the request judged (`%request`); unset until `dispatch()` binds one
   * @param fetcher - creates the attribute fetcher on first use
   */
  constructor(
    readonly inner: FhirRepository,
    readonly principal: PolicyPrincipal,
    private readonly request?: PolicyRequest,
    private readonly fetcher?: FetcherFactory,
  ) {
    this.administrator = isAdministrator(principal);
    this.unrestricted =
      hasFullAccessRole(principal) ||
      (principal.active && principal.policies.length > 0 && principal.policies.every((p) => p.engine === 'full-access' && p.brokenReason === undefined));
  }

  /** The store underneath (search internals read it directly and filter through {@link resultAccess}). */
  get store(): FhirRepository['store'] {
    return this.inner.store;
  }

  /** The project key. */
  get project(): string {
    return this.inner.project;
  }

  /**
   * The same caller bound to another request.
   * @param request - the request
   * @param fetcher - the attribute fetcher factory of that request
   * @returns a new repository
   */
  forRequest(request: PolicyRequest, fetcher: FetcherFactory): AccessControlledRepository {
    return new AccessControlledRepository(this.inner, this.principal, request, fetcher);
  }

  /**
   * The same caller and request over another repository (a transaction's staged view).
   * @param inner - the repository
   * @returns a new repository
   */
  over(inner: FhirRepository): AccessControlledRepository {
    return new AccessControlledRepository(inner, this.principal, this.request, this.fetcher);
  }

  /** True when the caller has full access to the project (owner/admin user or a full-access policy). */
  get isAdministrator(): boolean {
    return this.administrator;
  }

  /** `GET [type]/[id]` */
  async read(type: string, id: string): Promise<ResourceDocument & { resource: Resource }> {
    const plan = await this.plan();
    try {
      const doc = await this.inner.read(type, id);
      if (plan === 'per-resource' && !(await this.permits(doc.resource))) throw notFound(type, id);
      return doc;
    } catch (err) {
      if (err instanceof ResourceGoneError && plan === 'per-resource' && !(await this.permitsLastLive(type, id))) throw notFound(type, id);
      throw err;
    }
  }

  /** `GET [type]/[id]/_history/[vid]` */
  async vread(type: string, id: string, versionId: string): Promise<ResourceDocument & { resource: Resource }> {
    const plan = await this.plan();
    try {
      const doc = await this.inner.vread(type, id, versionId);
      if (plan === 'per-resource' && !(await this.permits(doc.resource))) throw notFound(type, `${id}/_history/${versionId}`);
      return doc;
    } catch (err) {
      if (err instanceof ResourceGoneError && plan === 'per-resource' && !(await this.permitsLastLive(type, id))) {
        throw notFound(type, `${id}/_history/${versionId}`);
      }
      throw err;
    }
  }

  /** `POST [type]` */
  async create(resource: Resource, assignedId?: string): Promise<WriteResult> {
    const plan = await this.plan();
    return this.inner.create(resource, assignedId, { authorize: this.writeCheck(plan) });
  }

  /** `PUT [type]/[id]` */
  async update(type: string, id: string, resource: Resource, options: Omit<WriteOptions, 'authorize'> = {}): Promise<WriteResult> {
    const plan = await this.plan();
    return this.inner.update(type, id, resource, { ...options, authorize: this.writeCheck(plan) });
  }

  /** `PATCH [type]/[id]` */
  async patch(type: string, id: string, operations: unknown, options: Omit<WriteOptions, 'authorize'> = {}): Promise<WriteResult> {
    const plan = await this.plan();
    return this.inner.patch(type, id, operations, { ...options, authorize: this.writeCheck(plan) });
  }

  /** `DELETE [type]/[id]` */
  async delete(type: string, id: string, options: Omit<WriteOptions, 'authorize'> = {}): Promise<{ versionId?: string }> {
    const plan = await this.plan();
    return this.inner.delete(type, id, { ...options, authorize: this.writeCheck(plan) });
  }

  /**
   * The stored current document (live or deleted), unjudged: for existence checks such as "the id in a
   * conditional update's body is taken", where the write that follows is judged.
   * @param type - the type
   * @param id - the id
   * @returns the stored document, or undefined
   */
  async readCurrent(type: string, id: string): Promise<ResourceDocument | undefined> {
    return this.inner.readCurrent(type, id);
  }

  /**
   * History, newest first, with only the versions the caller may see. For an instance, an id the caller may
   * not see is a 404 like an unknown one. Pages are filled after filtering; `total` is given only when nothing
   * is filtered, and `next` is the raw offset where the following page starts.
   * @param query - the history query
   * @returns the page
   */
  async history(query: Omit<HistoryQuery, 'project'>): Promise<{ entries: ResourceDocument[]; total?: number; next?: number }> {
    // Judged per type, like a system search: `%request.resourceType` is the type of each version.
    const all = query.type ? (await this.resultAccess([query.type])).all : this.unrestricted;
    if (query.type && query.id) {
      const current = await this.inner.readCurrent(query.type, query.id);
      if (!current) throw notFound(query.type, query.id);
      if (!all && !(await this.permitsLastLive(query.type, query.id))) throw notFound(query.type, query.id);
    }
    const skip = query.skip ?? 0;
    const limit = query.limit ?? 0;
    if (all) {
      const page = await this.inner.history(query);
      return { ...page, next: limit > 0 && skip + limit < page.total ? skip + limit : undefined };
    }
    const entries: ResourceDocument[] = [];
    let at = skip;
    for (;;) {
      const batch = Math.max(limit, 50);
      const raw = await this.inner.history({ ...query, skip: at, limit: batch });
      for (const [i, doc] of raw.entries.entries()) {
        if (!(await this.permitsVersion(doc))) continue;
        if (entries.length === limit) return { entries, next: at + i };
        entries.push(doc);
      }
      at += raw.entries.length;
      if (raw.entries.length < batch || limit === 0) return { entries };
    }
  }

  /**
   * How a search (or a conditional match) over some types treats what it finds: each resource is judged as
   * this request addressed to its type (`%request.resourceType` = the type of the resource judged).
   * @param types - the types searched
   * @param interaction - judge as this interaction instead of the request's (a conditional match is a search)
   * @returns the access; throws 403 when the policies refuse the request on every type
   */
  async resultAccess(types: readonly string[], interaction?: PolicyRequest['interaction']): Promise<ResultAccess> {
    if (this.unrestricted) return PERMIT_ALL;
    const modes = await Promise.all([...new Set(types)].map((type) => this.planOrDeny(this.variantFor(type, interaction))));
    if (modes.length > 0 && modes.every((m) => m === 'deny-all')) throw this.forbidden(types.length === 1 ? types[0] : undefined);
    if (modes.length > 0 && modes.every((m) => m === 'permit-all')) return PERMIT_ALL;
    return { all: false, accept: (doc) => this.visible(doc, interaction) };
  }

  /**
   * Whether the caller may see a resource found by this request (a search result, an included resource).
   * @param doc - a stored (live) document
   * @param interaction - judge as this interaction instead of the request's
   * @returns true when it may be shown
   */
  async visible(doc: ResourceDocument, interaction?: PolicyRequest['interaction']): Promise<boolean> {
    if (this.unrestricted) return true;
    const variant = this.variantFor(doc.type, interaction);
    const mode = await this.planOrDeny(variant);
    if (mode !== 'per-resource') return mode === 'permit-all';
    return doc.resource !== undefined && (await this.permits(doc.resource as Resource, variant));
  }

  private variantFor(type: string, interaction: PolicyRequest['interaction'] | undefined): Partial<PolicyRequest> {
    return interaction ? { interaction, resourceType: type } : { resourceType: type };
  }

  /** Throws 403 unless the caller has full access to the project (administrative operations). */
  requireAdministrator(operation: string): void {
    if (!this.administrator) throw new ForbiddenError(`${operation} is reserved to owners and administrators of the project`);
  }

  private boundRequest(): PolicyRequest {
    if (!this.request) throw new Error('The access-controlled repository is not bound to a request');
    return this.request;
  }

  private variantKey(variant: Partial<PolicyRequest>): string {
    return `${variant.interaction ?? ''}|${variant.resourceType ?? ''}|${variant.id ?? ''}`;
  }

  private session(variant: Partial<PolicyRequest> = {}): PolicySession {
    const key = this.variantKey(variant);
    let session = this.sessions.get(key);
    if (!session) {
      session = new PolicySession(this.principal, { ...this.boundRequest(), ...variant }, { fetcher: this.fetcher?.() });
      this.sessions.set(key, session);
    }
    return session;
  }

  /** The request's plan (resource-independent decision), for the bound request or a variant of it. */
  private async plan(variant: Partial<PolicyRequest> = {}): Promise<SearchPlan['mode']> {
    const mode = await this.planOrDeny(variant);
    if (mode === 'deny-all') throw this.forbidden(variant.resourceType ?? this.request?.resourceType);
    return mode;
  }

  /** Like {@link plan}, but reports `deny-all` instead of throwing. */
  private async planOrDeny(variant: Partial<PolicyRequest> = {}): Promise<SearchPlan['mode']> {
    if (this.unrestricted) return 'permit-all';
    const key = this.variantKey(variant);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = planSearch(this.session(variant));
      this.plans.set(key, plan);
    }
    return (await plan).mode;
  }

  private async permits(resource: Resource, variant: Partial<PolicyRequest> = {}, before?: Resource): Promise<boolean> {
    const decision = await this.session(variant).decide(asPolicyResource(resource), before && asPolicyResource(before));
    return decision.effect === 'permit';
  }

  private async permitsLastLive(type: string, id: string): Promise<boolean> {
    const { entries } = await this.inner.history({ type, id, limit: 20 });
    const live = entries.find((e) => !e.deleted && e.resource);
    return live !== undefined && (await this.permits(live.resource as Resource));
  }

  private async permitsVersion(doc: ResourceDocument): Promise<boolean> {
    if (doc.resource) return this.visible(doc);
    const variant = this.variantFor(doc.type, undefined);
    const mode = await this.planOrDeny(variant);
    if (mode !== 'per-resource') return mode === 'permit-all';
    // A deletion: judged by the version it deleted.
    const deleted = await this.inner.store.readVersion(this.project, doc.type, doc.id, doc.versionId - 1);
    return deleted?.resource !== undefined && (await this.permits(deleted.resource as Resource, variant));
  }

  private writeCheck(plan: SearchPlan['mode']): WriteOptions['authorize'] {
    if (this.unrestricted) return undefined;
    return async (next, before) => {
      const reason = this.administrator ? undefined : escalationReason(this.principal, next, before);
      const allowed = reason === undefined && (plan === 'permit-all' || (await this.permits((next ?? before) as Resource, {}, before)));
      if (allowed) return;
      const subject = (next ?? before) as Resource;
      if (before && !(await this.mayRead(before))) throw notFound(subject.resourceType, String(subject.id));
      throw new ForbiddenError(reason ? `Forbidden: ${reason}` : `The access policies do not permit this ${this.boundRequest().interaction} of ${subject.resourceType}`);
    };
  }

  private async mayRead(resource: Resource): Promise<boolean> {
    const variant: Partial<PolicyRequest> = { interaction: 'read', resourceType: resource.resourceType, id: resource.id, parameters: [] };
    const mode = await this.planOrDeny(variant);
    if (mode !== 'per-resource') return mode === 'permit-all';
    const decision = await this.session(variant).decide(asPolicyResource(resource));
    return decision.effect === 'permit';
  }

  private forbidden(type: string | undefined): ForbiddenError {
    const interaction = this.request?.interaction ?? 'request';
    return new ForbiddenError(`The access policies do not permit ${interaction}${type ? ` on ${type}` : ''}`);
  }
}

function notFound(type: string, id: string): ResourceNotFoundError {
  return new ResourceNotFoundError(`${type}/${id} not found`);
}
