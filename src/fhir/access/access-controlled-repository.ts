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
 * SMART scopes (scope-gate.ts) are checked first and narrow what the policies permit: an interaction no scope
 * allows is a 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`, and resources outside a scope's
 * patient compartment or restriction are treated like resources the policies hide.
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
import type { Filter, HistoryQuery, ResourceDocument } from '../../storage/ports';
import { hasFullAccessRole, PolicySession } from '../../policy/decide';
import { planSearch, type SearchPlan } from '../../policy/search-plan';
import type { AttributeFetcher, PolicyPrincipal, PolicyRequest, PolicyResource } from '../../policy/types';
import { ForbiddenError, ResourceGoneError, ResourceNotFoundError } from '../errors';
import { type FhirRepository, type Resource, type WriteOptions, type WriteResult } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';
import { buildSearchIndex } from '../search/indexing/build-index';
import { authRecordReader } from './auth-record-reader';
import { escalationReason, isAdministrator } from './escalation';
import type { ScopeAllowance, ScopeGate } from './scope-gate';

/** How a search or history request treats the resources it finds. */
export interface ResultAccess {
  /** Every resource found (with {@link ResultAccess.filter} applied) may be shown: no per-resource decision. */
  all: boolean;
  /** A condition the search must add (scope compartments and restrictions; types refused left out). */
  filter?: Filter;
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

const asPolicyResource = (resource: Resource): PolicyResource => toPublicView(resource) as PolicyResource;

/**
 * How a request stands before any resource is seen: `permit-all` (nothing to judge), `per-resource`, or refused
 * by the scopes or by the policies whatever the resource.
 */
type Mode = 'permit-all' | 'per-resource' | 'scope-denied' | 'deny-all';

/** A repository that applies one caller's scopes and access policies to one request. */
export class AccessControlledRepository {
  private readonly sessions = new Map<string, PolicySession>();
  private readonly plans = new Map<string, Promise<SearchPlan>>();
  private readonly administrator: boolean;
  /** No policy to judge: an owner/admin user, or a caller whose every policy is full-access. */
  private readonly unrestricted: boolean;

  /**
   * @param inner - the repository underneath (unrestricted)
   * @param principal - the caller with its policies
   * @param scopes - the token's scopes (undefined: no scope narrowing, for server-internal contexts)
   * @param request - the request judged (`%request`); unset until `dispatch()` binds one
   * @param fetcher - creates the attribute fetcher on first use
   */
  constructor(
    readonly inner: FhirRepository,
    readonly principal: PolicyPrincipal,
    private readonly scopes?: ScopeGate,
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
    return new AccessControlledRepository(this.inner, this.principal, this.scopes, request, fetcher);
  }

  /**
   * The same caller and request over another repository (a transaction's staged view).
   * @param inner - the repository
   * @returns a new repository
   */
  over(inner: FhirRepository): AccessControlledRepository {
    return new AccessControlledRepository(inner, this.principal, this.scopes, this.request, this.fetcher);
  }

  /** True when the caller has full access to the project (owner/admin user or a full-access policy). */
  get isAdministrator(): boolean {
    return this.administrator;
  }

  /** `GET [type]/[id]` */
  async read(type: string, id: string): Promise<ResourceDocument & { resource: Resource }> {
    return this.readOne(type, id, () => this.inner.read(type, id));
  }

  /** `GET [type]/[id]/_history/[vid]` */
  async vread(type: string, id: string, versionId: string): Promise<ResourceDocument & { resource: Resource }> {
    return this.readOne(type, `${id}/_history/${versionId}`, () => this.inner.vread(type, id, versionId), id);
  }

  /**
   * A read of one resource. The resource is judged directly; the request's plan is computed only when the answer
   * is not a plain success, so that a request refused whatever the resource is a 403 for existing and unknown
   * ids alike.
   */
  private async readOne(
    type: string,
    label: string,
    load: () => Promise<ResourceDocument & { resource: Resource }>,
    id = label,
  ): Promise<ResourceDocument & { resource: Resource }> {
    if (this.scopeFor({}).kind === 'none') throw this.refusal('scope-denied', type);
    let doc: ResourceDocument & { resource: Resource };
    try {
      doc = await load();
    } catch (err) {
      const mode = await this.requireMode();
      if (err instanceof ResourceGoneError && mode === 'per-resource' && !(await this.judgeLastLive(type, id))) throw notFound(type, label);
      throw err;
    }
    if (await this.judge(doc.resource, {}, undefined, doc)) return doc;
    await this.requireMode();
    throw notFound(type, label);
  }

  /** `POST [type]` */
  async create(resource: Resource, assignedId?: string): Promise<WriteResult> {
    const mode = await this.requireMode();
    return this.inner.create(resource, assignedId, { authorize: this.writeCheck(mode) });
  }

  /** `PUT [type]/[id]` */
  async update(type: string, id: string, resource: Resource, options: Omit<WriteOptions, 'authorize'> = {}): Promise<WriteResult> {
    const mode = await this.requireMode();
    return this.inner.update(type, id, resource, { ...options, authorize: this.writeCheck(mode) });
  }

  /** `PATCH [type]/[id]` */
  async patch(type: string, id: string, operations: unknown, options: Omit<WriteOptions, 'authorize'> = {}): Promise<WriteResult> {
    const mode = await this.requireMode();
    return this.inner.patch(type, id, operations, { ...options, authorize: this.writeCheck(mode) });
  }

  /** `DELETE [type]/[id]` */
  async delete(type: string, id: string, options: Omit<WriteOptions, 'authorize'> = {}): Promise<{ versionId?: string }> {
    const mode = await this.requireMode();
    return this.inner.delete(type, id, { ...options, authorize: this.writeCheck(mode) });
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
    const all = query.type ? (await this.resultAccess([query.type])).all : await this.nothingToJudge();
    if (query.type && query.id) {
      const current = await this.inner.readCurrent(query.type, query.id);
      if (!current) throw notFound(query.type, query.id);
      if (!all && !(await this.judgeLastLive(query.type, query.id))) throw notFound(query.type, query.id);
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
        if (!(await this.judgeVersion(doc))) continue;
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
   * @returns the access; throws 403 when the scopes or the policies refuse the request on every type
   */
  async resultAccess(types: readonly string[], interaction?: PolicyRequest['interaction']): Promise<ResultAccess> {
    const distinct = [...new Set(types)];
    const modes = await Promise.all(distinct.map((type) => this.modeOf(this.variantFor(type, interaction))));
    if (modes.length > 0 && modes.every((m) => m === 'scope-denied' || m === 'deny-all')) {
      throw this.refusal(modes.every((m) => m === 'scope-denied') ? 'scope-denied' : 'deny-all', distinct.length === 1 ? distinct[0] : undefined);
    }
    // Scope restrictions are pushed into the search; what remains to judge is the policies.
    const filters: Filter[] = [];
    let policyAll = true;
    for (const [i, type] of distinct.entries()) {
      const scope = this.scopeFor(this.variantFor(type, interaction));
      const mode = modes[i];
      if (mode === 'scope-denied' || mode === 'deny-all') filters.push({ type: { $ne: type } });
      else if (scope.kind === 'some') filters.push({ $or: [{ type: { $ne: type } }, scope.filter] });
      if (mode === 'per-resource' && !(this.unrestricted || (await this.policyMode(this.variantFor(type, interaction))) === 'permit-all')) policyAll = false;
    }
    const filter = filters.length === 0 ? undefined : filters.length === 1 ? filters[0] : { $and: filters };
    if (policyAll) return { all: true, filter, accept: () => Promise.resolve(true) };
    return { all: false, filter, accept: (doc) => this.visible(doc, interaction) };
  }

  /**
   * Whether the caller may see a resource found by this request (a search result, an included resource).
   * @param doc - a stored (live) document
   * @param interaction - judge as this interaction instead of the request's
   * @returns true when it may be shown
   */
  async visible(doc: ResourceDocument, interaction?: PolicyRequest['interaction']): Promise<boolean> {
    const variant = this.variantFor(doc.type, interaction);
    const mode = await this.modeOf(variant);
    if (mode !== 'per-resource') return mode === 'permit-all';
    return doc.resource !== undefined && (await this.judge(doc.resource as Resource, variant, undefined, doc));
  }

  /** Throws 403 unless the caller has full access to the project (administrative operations). */
  requireAdministrator(operation: string): void {
    if (!this.administrator) throw new ForbiddenError(`${operation} is reserved to owners and administrators of the project`);
  }

  private boundRequest(): PolicyRequest {
    if (!this.request) throw new Error('The access-controlled repository is not bound to a request');
    return this.request;
  }

  private variantFor(type: string, interaction: PolicyRequest['interaction'] | undefined): Partial<PolicyRequest> {
    return interaction ? { interaction, resourceType: type } : { resourceType: type };
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

  private scopeFor(variant: Partial<PolicyRequest>): ScopeAllowance {
    if (!this.scopes) return { kind: 'all' };
    return this.scopes.allowance(variant.interaction ?? this.request?.interaction, variant.resourceType ?? this.request?.resourceType);
  }

  /** The policies' plan for the bound request or a variant of it (memoized). */
  private async policyMode(variant: Partial<PolicyRequest>): Promise<SearchPlan['mode']> {
    if (this.unrestricted) return 'permit-all';
    const key = this.variantKey(variant);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = planSearch(this.session(variant));
      this.plans.set(key, plan);
    }
    return (await plan).mode;
  }

  private async modeOf(variant: Partial<PolicyRequest> = {}): Promise<Mode> {
    const scope = this.scopeFor(variant);
    if (scope.kind === 'none') return 'scope-denied';
    const policy = await this.policyMode(variant);
    if (policy === 'deny-all') return 'deny-all';
    return policy === 'permit-all' && scope.kind === 'all' ? 'permit-all' : 'per-resource';
  }

  /** The mode of the bound request; throws 403 when it is refused whatever the resource. */
  private async requireMode(): Promise<'permit-all' | 'per-resource'> {
    const mode = await this.modeOf();
    if (mode === 'scope-denied' || mode === 'deny-all') throw this.refusal(mode, this.request?.resourceType);
    return mode;
  }

  /** True when nothing of a system-level request needs judging. */
  private async nothingToJudge(): Promise<boolean> {
    // A `*` scope without patient context or restriction allows every type.
    return this.unrestricted && (!this.scopes || this.scopes.allowance(this.request?.interaction, '*').kind === 'all');
  }

  /**
   * Judges one resource: its scope allowance, then the policies.
   * @param resource - `%resource`
   * @param variant - the request variant
   * @param before - `%before`
   * @param doc - the stored document of `resource` when there is one (its search index is reused)
   */
  private async judge(resource: Resource, variant: Partial<PolicyRequest> = {}, before?: Resource, doc?: ResourceDocument): Promise<boolean> {
    const scope = this.scopeFor(variant);
    if (scope.kind === 'none') return false;
    // Keyed reads come without the stored search values: then they are computed.
    if (scope.kind === 'some' && !scope.test(doc?.index ? doc : indexed(resource))) return false;
    if (this.unrestricted) return true;
    // A plan already made answers without FHIRPath; otherwise the resource is judged directly (no plan needed).
    const planned = await this.knownPolicyMode(variant);
    if (planned !== undefined && planned !== 'per-resource') return planned === 'permit-all';
    const decision = await this.session(variant).decide(asPolicyResource(resource), before && asPolicyResource(before));
    return decision.effect === 'permit';
  }

  /** The plan of a variant if it was already made (or is being made) for this request. */
  private async knownPolicyMode(variant: Partial<PolicyRequest>): Promise<SearchPlan['mode'] | undefined> {
    const plan = this.plans.get(this.variantKey(variant));
    return plan ? (await plan).mode : undefined;
  }

  private async judgeLastLive(type: string, id: string): Promise<boolean> {
    const { entries } = await this.inner.history({ type, id, limit: 20 });
    const live = entries.find((e) => !e.deleted && e.resource);
    return live !== undefined && (await this.judge(live.resource as Resource, {}, undefined, live));
  }

  private async judgeVersion(doc: ResourceDocument): Promise<boolean> {
    if (doc.resource) return this.visible(doc);
    // A deletion: judged by the version it deleted.
    const deleted = await this.inner.store.readVersion(this.project, doc.type, doc.id, doc.versionId - 1);
    return deleted?.resource !== undefined && (await this.visible(deleted));
  }

  private writeCheck(mode: 'permit-all' | 'per-resource'): WriteOptions['authorize'] {
    if (mode === 'permit-all' && this.administrator) return undefined;
    return async (next, before) => {
      const reason = this.administrator ? undefined : await escalationReason(this.principal, next, before, authRecordReader(this.inner));
      const subject = (next ?? before) as Resource;
      let allowed = reason === undefined;
      if (allowed && mode === 'per-resource') {
        // The new version and the one it replaces must both be within the scopes; the policies see both.
        allowed = (await this.judge(subject, {}, before)) && (before === undefined || next === undefined || this.inScope(before));
      }
      if (allowed) return;
      if (before && !(await this.mayRead(before))) throw notFound(subject.resourceType, String(subject.id));
      throw new ForbiddenError(reason ? `Forbidden: ${reason}` : `The access policies do not permit this ${this.boundRequest().interaction} of ${subject.resourceType}`);
    };
  }

  private inScope(resource: Resource): boolean {
    const scope = this.scopeFor({});
    return scope.kind === 'all' || (scope.kind === 'some' && scope.test(indexed(resource)));
  }

  private async mayRead(resource: Resource): Promise<boolean> {
    const variant: Partial<PolicyRequest> = { interaction: 'read', resourceType: resource.resourceType, id: resource.id, parameters: [] };
    const mode = await this.modeOf(variant);
    if (mode !== 'per-resource') return mode === 'permit-all';
    return this.judge(resource, variant);
  }

  private refusal(mode: 'scope-denied' | 'deny-all', type: string | undefined): ForbiddenError {
    const interaction = this.request?.interaction ?? 'request';
    if (mode === 'deny-all') return new ForbiddenError(`The access policies do not permit ${interaction}${type ? ` on ${type}` : ''}`);
    const description = `The token's scopes do not permit ${interaction}${type ? ` on ${type}` : ''}`;
    const error = new ForbiddenError(description);
    error.headers = { 'WWW-Authenticate': `Bearer error="insufficient_scope", error_description="${description}"` };
    return error;
  }
}

function indexed(resource: Resource): Pick<ResourceDocument, 'type' | 'id' | 'index'> {
  return { type: resource.resourceType, id: String(resource.id), index: buildSearchIndex(resource).index };
}

function notFound(type: string, id: string): ResourceNotFoundError {
  return new ResourceNotFoundError(`${type}/${id} not found`);
}
