/**
 * The access-controlled repository: the one door between FHIR-facing code and stored documents (DESIGN §5.4,
 * §5.8; docs/access-policies.md "Enforcement"). Handlers, the search layer (matches, chains, `_has`, includes,
 * paging, totals), conditional interactions, Bundles, history, `$evaluate-policy` and the SMART patient picker
 * reach data only through it; the unjudged repository underneath is private to src/fhir/access.
 *
 * Each instance is bound to one caller and one request (`%request`); `dispatch()` binds a fresh instance to every
 * request it runs, including each entry of a batch or transaction. The judgement itself (scopes, then policies,
 * planned per type before any resource is seen) is judge.ts's; the rules of what each path shows:
 * - a read, vread, or an instance history shows a resource only if the caller may read it;
 * - every resource a search returns, as a match or included, is one the caller could read directly: matches are
 *   judged as the search and as a read of their type, includes as a read (scopes and policies alike);
 * - chains and `_has` look only at resources the caller could find by searching their type (judged as `search-type`
 *   of their type and as a read); a condition through any other resource matches nothing;
 * - history shows a version only if the caller may read that version (a deletion: the version it deleted);
 * - a type permitted without conditions is never judged per resource (the fast path), and scope restrictions are
 *   pushed into the store's filter.
 *
 * Status codes (docs/access-policies.md "404 or 403"):
 * - the scopes or the policies refuse the interaction whatever the resource → 403 (nothing about a resource is
 *   revealed; a scope refusal carries `WWW-Authenticate: Bearer error="insufficient_scope"`);
 * - a refused read, vread or instance history of a resource the caller may not see → 404, as for an unknown id;
 * - an update, patch or delete of a resource the caller may not read gets, permitted or not, the answer an unknown
 *   id would get (404 for patch and delete, whatever their `If-Match` or patch; for update, the answer to a create
 *   of the same content: 403, or 409 as the id is taken), before anything else is looked at; a refused write of a
 *   resource the caller may read → 403; a refused create → 403. An update that creates is judged as a create. A
 *   refused write changes nothing.
 * - AuditEvent is read-only: every write of it is refused (403), owners included; the server alone records them.
 * - AuditEvent is covered only by scopes that name it (judge.ts NAMED_SCOPE_TYPES), unless the caller has full
 *   access; and a reader without full access sees every AuditEvent it is handed (read, vread, history, match,
 *   include, chain) through audit-view.ts: what it names that the reader could not read directly is withheld, and a
 *   search tests its criteria on what is shown, so it is no oracle for withheld content.
 *
 * Every decision is an event (DESIGN §5.9): a repository bound to a request notes what refused it (scopes,
 * policies, a read-only type), the rule that decided, and the resources it handed out or wrote; decision.ts emits
 * the request's event once it has answered.
 */
import { UniqueConflictError, VersionConflictError, type Filter, type HistoryQuery, type ResourceDocument, type Sort } from '../../storage/ports';
import type { PolicyPrincipal, PolicyRequest } from '../../policy/types';
import { RESOURCE_TYPES } from '../definitions';
import { ConflictError, ForbiddenError, ResourceGoneError, type ResourceNotFoundError } from '../errors';
import type { FhirRepository, Resource, WriteOptions, WriteResult } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';
import type { FhirContext } from '../rest/fhir-request';
import type { Cursor } from '../search/cursor';
import { attributeFetcher } from './attribute-fetcher';
import { AUDIT_VIEW_TYPES, AuditEventView } from './audit-view';
import { authRecordReader } from './auth-record-reader';
import { type DecisionNote, type DecisionSink } from './decision';
import { isAdministrator } from './escalation';
import { type Explanation, explainRequest, type ExplainInput, type PrincipalLoader } from './explain';
import { AccessJudge, readRequest } from './judge';
import type { Page } from './paging';
import type { ScopeGate } from './scope-gate';
import { planTypes, type TypeCheck, type TypePlan } from './type-plan';
import { collectVisible, countVisible, publicDocument, visiblePage } from './visible-documents';
import { notFound, refusalError, writeCheck } from './write-check';

/** What the repository needs besides the caller: the token's scopes and how to load other principals. */
export interface AccessOptions {
  /** The token's scopes (undefined: no scope narrowing — a signed-in user's own access, before any token). */
  scopes?: ScopeGate;
  /** Loads the principal `$evaluate-policy` explains. */
  principals?: PrincipalLoader;
  /** Where the decisions of this caller's requests go (decision.ts); unset: nowhere. */
  decisions?: DecisionSink;
}

/** Types the API only reads: the server writes them itself (the audit trail). */
const READ_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);
const WRITE_INTERACTIONS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete']);

/** The parts of a request's context the repository needs to run searches with server authority. */
export type SearchContext = Omit<FhirContext, 'repo' | 'auth'>;

/** The matches of one search, as the caller may see them. */
export interface MatchAccess {
  /** True when matches are judged one by one (a total then costs a scan). */
  judged: boolean;
  /**
   * One page of visible matches.
   * @param filter - the compiled criteria
   * @param sort - the sort, `_id` last
   * @param cursor - where the page starts
   * @param count - the page size
   * @returns the page (public views)
   */
  page(filter: Filter, sort: Sort, cursor: Cursor, count: number): Promise<Page>;
  /**
   * The number of visible matches.
   * @param filter - the compiled criteria
   * @returns the count
   */
  count(filter: Filter): Promise<number>;
  /**
   * The first visible matches in `_id` order (conditional interactions).
   * @param filter - the compiled criteria
   * @param limit - the most to return
   * @returns the documents (public views)
   */
  list(filter: Filter, limit: number): Promise<ResourceDocument[]>;
}

/** Whether an id names a resource, as the caller may know it. */
export type IdStatus = 'free' | 'visible' | 'hidden';

/** The principal of requests without a token (`/metadata`): denied everything. */
export const ANONYMOUS: PolicyPrincipal = { project: '', kind: 'client', reference: 'anonymous', active: false, scopes: [], policies: [] };

/** Reads with the server's authority: policy attributes only (docs/access-policies.md "Attributes"). */
function serverPrincipal(project: string): PolicyPrincipal {
  return {
    project,
    kind: 'client',
    reference: 'server',
    active: true,
    scopes: [],
    policies: [{ id: 'server-authority', engine: 'full-access', targets: [], rules: [], attributes: [] }],
  };
}

const ALL_TYPES = [...RESOURCE_TYPES];
const UNBOUND: PolicyRequest = { interaction: 'search-system', parameters: [] };

/** A repository that applies one caller's scopes and access policies to one request. */
export class AccessControlledRepository {
  private judgeOfRequest?: AccessJudge;
  private auditViewOfRequest?: AuditEventView;
  private readonly administrator: boolean;

  /**
   * @param inner - the project's unjudged repository
   * @param principal - the caller with its policies
   * @param options - the token's scopes, the principal loader
   * @param request - the request judged (`%request`); unset until `dispatch()` binds one
   * @param context - the request's context, for attribute searches
   * @param note - where the request's decision is noted (decision.ts)
   */
  constructor(
    private readonly inner: FhirRepository,
    readonly principal: PolicyPrincipal,
    private readonly options: AccessOptions = {},
    private readonly request?: PolicyRequest,
    private readonly context?: SearchContext,
    private readonly note?: DecisionNote,
  ) {
    this.administrator = isAdministrator(principal);
  }

  /** The judgement of the bound request (made on first use: a repository not yet bound to a request judges nothing). */
  private get judge(): AccessJudge {
    const { context } = this;
    this.judgeOfRequest ??= new AccessJudge(this.principal, this.request ?? UNBOUND, this.options.scopes, context ? () => this.attributes(context) : undefined, this.note);
    return this.judgeOfRequest;
  }

  /**
   * How this caller sees AuditEvents (undefined: as stored, for a caller with full access). Its judge notes nothing:
   * judging what an AuditEvent names is not the request's decision.
   */
  private get auditView(): AuditEventView | undefined {
    if (this.administrator) return undefined;
    const { context } = this;
    this.auditViewOfRequest ??= new AuditEventView(
      (type, id, versionId) => (versionId === undefined ? this.inner.readCurrent(type, id) : this.inner.readVersion(type, id, versionId)),
      new AccessJudge(this.principal, this.request ?? UNBOUND, this.options.scopes, context ? () => this.attributes(context) : undefined),
    );
    return this.auditViewOfRequest;
  }

  /**
   * A plan whose open types include one shown through the audit view: judged per resource, through the view.
   * @param plan - the plan
   * @returns the plan to use
   */
  private viewed(plan: TypePlan): TypePlan {
    if (plan.refused || ![...AUDIT_VIEW_TYPES].some((type) => plan.open.has(type))) return plan;
    const view = this.auditView;
    return view ? { ...plan, perResource: true, view: view.show } : plan;
  }

  /**
   * Documents as this caller sees them (the audit view applied).
   * @param docs - documents handed out
   * @returns the documents to hand out
   */
  private async shownAll(docs: ResourceDocument[]): Promise<ResourceDocument[]> {
    const view = this.auditView;
    if (!view || !docs.some((doc) => AUDIT_VIEW_TYPES.has(doc.type))) return docs;
    return Promise.all(docs.map(view.show));
  }

  /** The project key. */
  get project(): string {
    return this.inner.project;
  }

  /** Where this caller's decisions go (undefined: nowhere). */
  get decisions(): DecisionSink | undefined {
    return this.options.decisions;
  }

  /**
   * The same caller bound to another request.
   * @param request - the request
   * @param context - its context (attribute searches run in it)
   * @param note - where the request's decision is noted
   * @returns a new repository
   */
  forRequest(request: PolicyRequest, context: SearchContext, note?: DecisionNote): AccessControlledRepository {
    return new AccessControlledRepository(this.inner, this.principal, this.options, request, context, note);
  }

  /** `GET [type]/[id]` */
  async read(type: string, id: string): Promise<ResourceDocument & { resource: Resource }> {
    return this.readOne(type, id, () => this.inner.read(type, id));
  }

  /** `GET [type]/[id]/_history/[vid]` */
  async vread(type: string, id: string, versionId: string): Promise<ResourceDocument & { resource: Resource }> {
    // A deletion is judged by the version it deleted, as history judges it.
    const deleted = async (request: PolicyRequest): Promise<boolean> => {
      const version = await this.inner.readVersion(type, id, Number(versionId) - 1);
      return version?.resource !== undefined && (await this.judge.permits(request, toPublicView(version.resource) as Resource, version));
    };
    return this.readOne(type, `${id}/_history/${versionId}`, () => this.inner.vread(type, id, versionId), deleted);
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
    goneVisible: (request: PolicyRequest) => Promise<boolean> = (request) => this.lastLiveReadable(type, label, request),
  ): Promise<ResourceDocument & { resource: Resource }> {
    const request = this.bound();
    if (this.judge.scopeFor(request).kind === 'none') throw this.refusal('scope', type);
    let doc: ResourceDocument & { resource: Resource };
    try {
      doc = await load();
    } catch (err) {
      await this.requireOpen();
      if (err instanceof ResourceGoneError && !(await goneVisible(request))) throw this.hidden(type, label, request);
      throw err;
    }
    if (await this.judge.permits(request, doc.resource, doc)) {
      this.note?.touch(doc);
      const view = AUDIT_VIEW_TYPES.has(type) ? this.auditView : undefined;
      return view ? ((await view.show(doc)) as ResourceDocument & { resource: Resource }) : doc;
    }
    await this.requireOpen();
    throw this.hidden(type, label, request, doc.resource);
  }

  /** `POST [type]` */
  async create(resource: Resource, assignedId?: string): Promise<WriteResult> {
    const perResource = await this.requireOpen(resource.resourceType);
    return this.written(await this.inner.create(resource, assignedId, { authorize: this.writeCheck(perResource) }));
  }

  /** `PUT [type]/[id]` */
  async update(type: string, id: string, resource: Resource, options: Omit<WriteOptions, 'authorize'> = {}): Promise<WriteResult> {
    const perResource = await this.requireOpen(type);
    return this.written(await this.inner.update(type, id, resource, { ...options, known: this.known, authorize: this.writeCheck(perResource, true) }));
  }

  /** `PATCH [type]/[id]` */
  async patch(type: string, id: string, operations: unknown, options: Omit<WriteOptions, 'authorize'> = {}): Promise<WriteResult> {
    const perResource = await this.requireOpen(type);
    return this.written(await this.inner.patch(type, id, operations, { ...options, known: this.known, authorize: this.writeCheck(perResource) }));
  }

  /** `DELETE [type]/[id]` */
  async delete(type: string, id: string, options: Omit<WriteOptions, 'authorize'> = {}): Promise<{ versionId?: string }> {
    const perResource = await this.requireOpen(type);
    const result = await this.inner.delete(type, id, { ...options, known: this.known, authorize: this.writeCheck(perResource) });
    this.note?.touch({ type, id, versionId: result.versionId });
    return result;
  }

  /**
   * Whether an id is taken, as the caller may know it: `hidden` when a live resource has it that the caller may not
   * read (a write to it is then answered as for a free id, see the module comment).
   * @param type - the type
   * @param id - the id
   * @returns free (never used, or deleted), visible or hidden
   */
  async idStatus(type: string, id: string): Promise<IdStatus> {
    const current = await this.inner.readCurrent(type, id);
    if (!current || current.deleted || !current.resource) return 'free';
    return (await this.judge.mayRead(current.resource as Resource)) ? 'visible' : 'hidden';
  }

  /**
   * A transaction's view of this repository: the same caller and request over staged writes.
   * @returns the staged repository and its commit (a conflict with a concurrent write → 409, nothing stored)
   */
  transaction(): { repo: AccessControlledRepository; commit(): Promise<void> } {
    const staged = this.inner.staged();
    return {
      repo: new AccessControlledRepository(staged.repo, this.principal, this.options, this.request, this.context, this.note),
      commit: async () => {
        try {
          await staged.commit();
        } catch (err) {
          if (err instanceof VersionConflictError) throw new ConflictError(`The transaction was not stored: ${err.key} was changed by another request meanwhile`);
          if (err instanceof UniqueConflictError) throw new ConflictError(`The transaction was not stored: ${err.uniqueKey.split('|')[0] ?? 'a unique value'} is already in use`);
          throw err;
        }
      },
    };
  }

  /**
   * History, newest first, with only the versions the caller may read (a deletion: when the caller may read the
   * version it deleted). For an instance, an id the caller may not read is a 404 like an unknown one. Pages are
   * filled after filtering; `total` is given only when nothing is filtered. Offsets (`skip`, `next`) count the
   * versions the caller sees, so a judged page is found by judging from the newest version on (bounded by the
   * request's time budget).
   * @param query - the history query
   * @returns the page
   */
  async history(query: Omit<HistoryQuery, 'project'>): Promise<{ entries: ResourceDocument[]; total?: number; next?: number }> {
    const request = this.bound();
    const plan = await planTypes(this.judge, query.type ? [query.type] : ALL_TYPES, (type) => [
      { request: this.judge.asType(type), primary: true },
      { request: readRequest(type, undefined, 'vread'), forResource: (doc) => readRequest(type, doc.id, 'vread'), primary: false },
    ]);
    if (plan.refused) throw this.refusal(plan.refused, request.resourceType);
    const judged = plan.perResource || plan.filter !== undefined;
    if (query.type && query.id) {
      const current = await this.inner.readCurrent(query.type, query.id);
      if (!current) throw notFound(query.type, query.id);
      if (judged && !(await this.lastLiveVisible(plan, query.type, query.id))) throw notFound(query.type, query.id);
    }
    const skip = query.skip ?? 0;
    const limit = query.limit ?? 0;
    if (!judged) {
      const page = await this.inner.history(query);
      this.note?.touchAll(page.entries);
      return { ...page, entries: await this.shownAll(page.entries), next: limit > 0 && skip + limit < page.total ? skip + limit : undefined };
    }
    if (limit === 0) return { entries: [] };
    // Offsets count only the versions the caller sees: a link never tells how many it may not see.
    const entries: ResourceDocument[] = [];
    let skipped = 0;
    let at = 0;
    for (;;) {
      this.context?.budget.checkTime();
      const batch = Math.max(limit, 200);
      const raw = await this.inner.history({ ...query, skip: at, limit: batch });
      for (const doc of raw.entries) {
        await this.context?.budget.breathe();
        if (!(await this.versionVisible(plan, doc))) continue;
        if (skipped < skip) {
          skipped++;
          continue;
        }
        if (entries.length === limit) return this.handedOut({ entries: await this.shownAll(entries), next: skip + limit });
        entries.push(doc);
      }
      at += raw.entries.length;
      if (raw.entries.length < batch) return this.handedOut({ entries: await this.shownAll(entries) });
    }
  }

  /**
   * The instant a first search page takes as its paging snapshot (see FhirRepository.snapshotInstant).
   * @returns epoch milliseconds
   */
  snapshotInstant(): number {
    return this.inner.snapshotInstant();
  }

  /**
   * The matches of a search over some types, judged as this request addressed to each type and as a read.
   * @param types - the types searched
   * @param interaction - judge as this interaction instead of the request's (a conditional match is a search)
   * @returns access to the visible matches; throws 403 when the scopes or the policies refuse every type
   */
  async matches(types: readonly string[], interaction?: PolicyRequest['interaction']): Promise<MatchAccess> {
    // A conditional write of a read-only type is refused before anything is searched.
    if (this.request && WRITE_INTERACTIONS.has(this.request.interaction)) this.requireWritable(types.length === 1 ? types[0] : undefined);
    const plan = await this.plan(types, (type) => [
      { request: this.judge.asType(type, interaction), primary: true },
      { request: readRequest(type, undefined), forResource: (doc) => readRequest(type, doc.id), primary: false },
    ]);
    return {
      judged: plan.perResource,
      page: async (filter, sort, cursor, count) => {
        const page = await visiblePage(this.inner, plan, filter, sort, cursor, count, this.context?.budget, this.mayVread);
        if (this.note) for (const entry of page.entries) this.note.touch(entry.doc);
        return page;
      },
      count: (filter) => countVisible(this.inner, plan, filter, this.context?.budget),
      list: async (filter, limit) => this.handedOutAll(await collectVisible(this.inner, plan, filter, limit, this.context?.budget)),
    };
  }

  /**
   * The resources of one type a search condition may look at (the inner search of a chain or `_has`): those a
   * search of that type would return to the caller, i.e. judged as `search-type` of their type and as a read of
   * each (a token with `s` but not `r` finds nothing, so it learns nothing through a chain either). A type the
   * caller may not search yields nothing.
   * @param type - the type
   * @param filter - the inner criteria
   * @param limit - the most to return
   * @returns the documents in `_id` order (public views with their search values)
   */
  async searchable(type: string, filter: Filter, limit: number): Promise<ResourceDocument[]> {
    const plan = this.viewed(
      await planTypes(this.judge, [type], (t) => [
        { request: this.judge.asType(t, 'search-type'), primary: true },
        { request: readRequest(t, undefined), forResource: (doc) => readRequest(t, doc.id), primary: false },
      ]),
    );
    return collectVisible(this.inner, plan, { ...filter, type }, limit, this.context?.budget);
  }

  /**
   * Resources of one type to include in a search's response: those the caller may read, each judged like a direct
   * read of it. A type the caller may not read yields nothing.
   * @param type - the type
   * @param filter - which resources (ids, or references to the matches)
   * @param limit - the most to return
   * @returns the documents in `_id` order (public views with their search values)
   */
  async readable(type: string, filter: Filter, limit: number): Promise<ResourceDocument[]> {
    const plan = this.viewed(await planTypes(this.judge, [type], (t) => [{ request: readRequest(t, undefined), forResource: (doc) => readRequest(t, doc.id), primary: true }]));
    return this.handedOutAll(await collectVisible(this.inner, plan, { ...filter, type }, limit, this.context?.budget));
  }

  /**
   * Runs `$evaluate-policy`: how the policies would judge a principal's request. Reserved to callers with full
   * access to the project whose token may read every resource: it reads stored resources and attributes of any
   * type with the server's authority, and its decision depends on them (the answer is a decision, never the
   * resources, but a decision about a resource can tell what it holds).
   * @param input - the parsed operation input
   * @returns the decision, the request judged and its plan
   */
  async explain(input: ExplainInput): Promise<Explanation> {
    this.requireOperation('$evaluate-policy', '*');
    if (!this.options.principals || !this.context) throw new Error('The access-controlled repository cannot load principals here');
    return explainRequest(input, { repo: this.inner, principals: this.options.principals, fetcher: this.attributes(this.context) });
  }

  /**
   * Throws 403 unless the caller has full access to the project and the token's scopes allow reading every resource
   * of the types the operation's answer may depend on (`patient/` scopes never do).
   * @param operation - the operation name, for the message
   * @param readTypes - the types whose unrestricted read the operation needs (`*`: every type)
   */
  requireOperation(operation: string, readTypes: readonly string[] | '*'): void {
    const types = readTypes === '*' ? ALL_TYPES : readTypes;
    if (types.some((type) => this.judge.scopeFor(readRequest(type, undefined)).kind !== 'all')) {
      throw refusalError('scope', operation, undefined, `it needs user/ or system/ read access to every ${readTypes === '*' ? 'resource (*.rs or *.read)' : types.join(', ')}`);
    }
    if (!this.administrator) throw new ForbiddenError(`${operation} is reserved to owners and administrators of the project`);
  }

  private async plan(types: readonly string[], checksFor: (type: string) => TypeCheck[]): Promise<TypePlan> {
    const plan = await planTypes(this.judge, types, checksFor);
    if (plan.refused) throw this.refusal(plan.refused, types.length === 1 ? types[0] : undefined);
    return this.viewed(plan);
  }

  /** The attribute fetcher: reads and searches with the server's authority, in this request's context. */
  private attributes(context: SearchContext): ReturnType<typeof attributeFetcher> {
    const server = new AccessControlledRepository(this.inner, serverPrincipal(this.inner.project), {}, UNBOUND);
    return attributeFetcher({ ...context, repo: server });
  }

  private bound(): PolicyRequest {
    if (!this.request) throw new Error('The access-controlled repository is not bound to a request');
    return this.request;
  }

  /** Throws 403 when the bound request is refused whatever the resource; returns whether it judges per resource. */
  private async requireOpen(writtenType?: string): Promise<boolean> {
    const request = this.bound();
    if (WRITE_INTERACTIONS.has(request.interaction)) this.requireWritable(writtenType ?? request.resourceType);
    const verdict = await this.judge.verdict(request);
    if (verdict.kind === 'refused') throw this.refusal(verdict.by, request.resourceType);
    return verdict.perResource || verdict.scope.kind === 'some';
  }

  private async lastLive(type: string, id: string): Promise<ResourceDocument | undefined> {
    const { entries } = await this.inner.history({ type, id, limit: 20 });
    return entries.find((e) => !e.deleted && e.resource);
  }

  private async lastLiveReadable(type: string, id: string, request: PolicyRequest): Promise<boolean> {
    const live = await this.lastLive(type, id);
    return live !== undefined && (await this.judge.permits(request, live.resource as Resource, live));
  }

  private async lastLiveVisible(plan: TypePlan, type: string, id: string): Promise<boolean> {
    const live = await this.lastLive(type, id);
    return live !== undefined && (await plan.accept(live, false));
  }

  private async versionVisible(plan: TypePlan, doc: ResourceDocument): Promise<boolean> {
    if (doc.resource) return plan.accept(doc, false);
    // A deletion: judged by the version it deleted.
    const deleted = await this.inner.readVersion(doc.type, doc.id, doc.versionId - 1);
    return deleted?.resource !== undefined && (await plan.accept(publicDocument(deleted), false));
  }

  /**
   * Whether the caller may know of a stored current version, asked by a write before anything else (see
   * write-check.ts): it may read the resource (for a deletion, the version it deleted). A token whose scopes grant
   * no read of the type at all (SMART v1 `write`, v2 `u`/`d` without `r`) may also know a live resource that its
   * scopes and policies let it update or delete as it stands; a patch, which reads what it changes, always needs
   * the read.
   * @param current - the stored current version
   * @returns true when the write may go on
   */
  private readonly known = async (current: ResourceDocument): Promise<boolean> => {
    const live = current.deleted || !current.resource ? await this.lastLive(current.type, current.id) : current;
    if (live?.resource === undefined) return false;
    const resource = toPublicView(live.resource) as Resource;
    if (await this.judge.mayRead(resource)) return true;
    const request = this.bound();
    const known = live === current && request.interaction !== 'patch' && this.judge.scopeFor(readRequest(current.type, undefined)).kind === 'none' && (await this.judge.permits(request, resource, live));
    if (!known) this.note?.refuse(this.judge.inScope(readRequest(current.type, current.id), resource) ? 'policy' : 'scope');
    return known;
  };

  /**
   * Whether the caller may read one version directly (`GET [type]/[id]/_history/[vid]`): what may place a resource
   * in a search page (paging.ts), so that no cursor reveals a version the caller may not see.
   * @param version - a stored version
   * @returns true when a vread of it would answer 200
   */
  private readonly mayVread = async (version: ResourceDocument): Promise<boolean> =>
    version.resource !== undefined && this.judge.mayRead(toPublicView(version.resource) as Resource, 'vread', version);

  /**
   * The check of a write just before it is stored.
   * @param perResource - the request is judged per resource
   * @param mayCreate - the write may create the resource (an update): it is then judged as a create
   * @returns the check, or undefined when nothing is left to judge
   */
  private writeCheck(perResource: boolean, mayCreate = false): WriteOptions['authorize'] {
    if (!perResource && this.administrator && !mayCreate) return undefined;
    const check = writeCheck({ judge: this.judge, request: this.bound(), principal: this.principal, administrator: this.administrator, reader: authRecordReader(this.inner) }, perResource);
    const { note } = this;
    if (!note) return check;
    return async (next, before, asFreeId) => {
      try {
        await check(next, before, asFreeId);
      } catch (err) {
        if (err instanceof ForbiddenError) note.refuse(err.headers?.['WWW-Authenticate']?.includes('insufficient_scope') ? 'scope' : 'policy');
        throw err;
      }
    };
  }

  private refusal(by: 'scope' | 'policy', type: string | undefined): ForbiddenError {
    this.note?.refuse(by);
    return refusalError(by, this.request?.interaction ?? 'request', type);
  }

  /**
   * Refuses (403) a write of a type the API only reads, whoever asks (owners included).
   * @param type - the type written
   */
  private requireWritable(type: string | undefined): void {
    if (type === undefined || !READ_ONLY_TYPES.has(type)) return;
    this.note?.refuse('read-only');
    throw new ForbiddenError(`${type} resources are recorded by the server; they cannot be created, changed or deleted through the API`);
  }

  /**
   * The 404 of a resource the caller may not see, noted as the refusal it is.
   * @param type - the type
   * @param label - the id (or id and version) named
   * @param request - the request refused
   * @param resource - the stored resource, when one was judged
   * @returns the error
   */
  private hidden(type: string, label: string, request: PolicyRequest, resource?: Resource): ResourceNotFoundError {
    this.note?.refuse(resource !== undefined && !this.judge.inScope(request, resource) ? 'scope' : 'policy');
    return notFound(type, label);
  }

  /** Notes a written resource and hands the result on. */
  private written(result: WriteResult): WriteResult {
    const { resource } = result;
    this.note?.touch({ type: resource.resourceType, id: String(resource.id), versionId: result.versionId, resource });
    return result;
  }

  /** Notes the documents of a page and hands it on. */
  private handedOut<T extends { entries: ResourceDocument[] }>(page: T): T {
    this.note?.touchAll(page.entries);
    return page;
  }

  /** Notes documents and hands them on. */
  private handedOutAll(docs: ResourceDocument[]): ResourceDocument[] {
    this.note?.touchAll(docs);
    return docs;
  }
}

