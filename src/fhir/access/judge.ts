/**
 * The judgement of one caller's request (DESIGN §5.2-5.4): SMART scopes first, then the AccessPolicies, for the
 * request itself or for a variant of it — the request addressed to another type (a system search judged per type,
 * a chain's inner search), or the direct read of one resource (what an included resource or a history entry must
 * pass). Only the access-controlled repository uses it.
 *
 * Before any resource is seen, a variant is planned (`planSearch`): refused whatever the resource (by the scopes or
 * by the policies), open without any per-resource decision, or open with each resource judged. Scope restrictions
 * (`patient/` compartments, `?category=…`) are filters a search pushes into the store, and tests of one document.
 *
 * Policy sessions and plans are memoized per variant, keyed by the members of `%request` the caller's policies
 * read (request-fields.ts): a search match judged as the search and as a read is judged once when the policies
 * cannot tell the two apart, and reads of many ids share one session (and its attributes) when no policy reads
 * `%request.id`.
 */
import type { Filter, ResourceDocument } from '../../storage/ports';
import { hasFullAccessRole, PolicySession } from '../../policy/decide';
import { type RequestFields, requestFieldsOf } from '../../policy/request-fields';
import { planSearch, type SearchPlan } from '../../policy/search-plan';
import type { AttributeFetcher, PolicyInteraction, PolicyPrincipal, PolicyRequest, PolicyResource } from '../../policy/types';
import type { Resource } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';
import { buildSearchIndex } from '../search/indexing/build-index';
import type { DecisionNote } from './decision';
import { isAdministrator } from './escalation';
import type { ScopeAllowance, ScopeGate } from './scope-gate';

/**
 * Types a wildcard scope (`user/*.rs`) does not cover unless the caller has full access to the project: only a
 * scope naming them grants them (docs/audit.md "Who can read AuditEvents").
 */
export const NAMED_SCOPE_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/** How a variant stands before any resource is seen. */
export type Verdict =
  | { kind: 'refused'; by: 'scope' | 'policy' }
  | {
      kind: 'open';
      /** What the scopes allow (`some`: a filter and a test). */
      scope: ScopeAllowance;
      /** True when the policies decide per resource. */
      perResource: boolean;
    };

/** A stored document or a candidate resource with the search values scopes are tested on. */
type Indexed = Pick<ResourceDocument, 'type' | 'id' | 'index'>;

const asPolicyResource = (resource: Resource): PolicyResource => toPublicView(resource) as PolicyResource;

/**
 * The search values of a resource, computed when a document comes without them (keyed reads leave them out).
 * @param resource - the resource
 * @returns what a scope restriction is tested on
 */
export function indexed(resource: Resource): Indexed {
  return { type: resource.resourceType, id: String(resource.id), index: buildSearchIndex(resource).index };
}

/**
 * The direct read of one resource, as `GET [type]/[id]` describes it to the policies.
 * @param type - the type
 * @param id - the id (undefined: any id, for planning)
 * @param interaction - `read` or `vread`
 * @returns the request
 */
export function readRequest(type: string, id: string | undefined, interaction: 'read' | 'vread' = 'read'): PolicyRequest {
  const request: PolicyRequest = { interaction, resourceType: type, parameters: [] };
  if (id !== undefined) request.id = id;
  return request;
}

/** Judges one caller's request and its variants. */
export class AccessJudge {
  private readonly sessions = new Map<string, PolicySession>();
  private readonly plans = new Map<string, Promise<SearchPlan['mode']>>();
  private readonly verdicts = new Map<string, Promise<Verdict>>();
  private readonly decisions = new Map<string, Promise<boolean>>();
  // A Map, not a WeakMap: the judge lives as long as its request, and ephemerons cost the garbage collector more.
  private readonly keys = new Map<PolicyRequest, string>();
  private readonly fields: RequestFields;
  private attributeFetcher?: AttributeFetcher;
  /** No policy to judge: an owner/admin user, or a caller whose every policy is full-access. */
  readonly unrestricted: boolean;
  /** Full access to the project (escalation.ts): wildcard scopes cover the audit trail, shown unmasked. */
  readonly administrator: boolean;

  /**
   * @param principal - the caller with its policies
   * @param request - the request judged (`%request`)
   * @param scopes - the token's scopes (undefined: no scope narrowing — a user's own access, server authority)
   * @param fetcher - creates the attribute fetcher on first use
   * @param note - where the rule that decided is noted for the request's decision event
   */
  constructor(
    readonly principal: PolicyPrincipal,
    readonly request: PolicyRequest,
    private readonly scopes: ScopeGate | undefined,
    private readonly fetcher: (() => AttributeFetcher) | undefined,
    private readonly note?: DecisionNote,
  ) {
    const byRole = hasFullAccessRole(principal);
    this.unrestricted =
      byRole || (principal.active && principal.policies.length > 0 && principal.policies.every((p) => p.engine === 'full-access' && p.brokenReason === undefined));
    this.administrator = isAdministrator(principal);
    this.fields = this.unrestricted ? new Set() : requestFieldsOf(principal.policies);
    if (note && this.unrestricted) {
      note.rule = byRole ? `role ${principal.role ?? 'admin'}` : principal.policies.map((p) => `AccessPolicy/${p.id} (full-access)`).join(', ');
    }
  }

  /**
   * The request addressed to another type (and interaction), as a system search judges each type.
   * @param type - the type
   * @param interaction - the interaction (default: the request's)
   * @returns the variant
   */
  asType(type: string, interaction?: PolicyInteraction): PolicyRequest {
    return { ...this.request, interaction: interaction ?? this.request.interaction, resourceType: type };
  }

  /**
   * What the scopes allow for a variant.
   * @param variant - the request or a variant
   * @returns the allowance
   */
  scopeFor(variant: PolicyRequest): ScopeAllowance {
    if (!this.scopes) return { kind: 'all' };
    const namedOnly = !this.administrator && variant.resourceType !== undefined && NAMED_SCOPE_TYPES.has(variant.resourceType);
    return this.scopes.allowance(variant.interaction, variant.resourceType, namedOnly);
  }

  /**
   * How a variant stands before any resource is seen (memoized).
   * @param variant - the request or a variant
   * @returns the verdict
   */
  verdict(variant: PolicyRequest): Promise<Verdict> {
    const key = `${variant.interaction}|${variant.resourceType ?? ''}|${this.key(variant)}`;
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      verdict = this.computeVerdict(variant);
      this.verdicts.set(key, verdict);
    }
    return verdict;
  }

  private async computeVerdict(variant: PolicyRequest): Promise<Verdict> {
    const scope = this.scopeFor(variant);
    if (scope.kind === 'none') return { kind: 'refused', by: 'scope' };
    // A read planned for any id: when the policies read `%request.id`, each id is its own request.
    const mode = variant.id === undefined && this.readsField('id') && isKeyed(variant.interaction) ? 'per-resource' : await this.policyMode(variant);
    if (mode === 'deny-all') return { kind: 'refused', by: 'policy' };
    return { kind: 'open', scope, perResource: mode === 'per-resource' };
  }

  /**
   * Whether the policies permit a variant for one resource (scopes not consulted).
   * @param variant - the request or a variant
   * @param resource - `%resource`
   * @param before - `%before`
   * @param stored - the stored document `resource` comes from: decisions about it are remembered for the request
   * @returns true on permit
   */
  async policiesPermit(variant: PolicyRequest, resource: Resource, before?: Resource, stored?: ResourceDocument): Promise<boolean> {
    if (this.unrestricted) return true;
    const key = this.key(variant);
    // A plan already made answers without FHIRPath.
    const planned = this.plans.get(key);
    if (planned) {
      const mode = await planned;
      if (mode !== 'per-resource') return mode === 'permit-all';
    }
    if (!stored || before !== undefined) return this.decide(key, variant, resource, before);
    const memo = `${key}\0${stored._id}\0${stored.versionId}`;
    let decision = this.decisions.get(memo);
    if (!decision) {
      decision = this.decide(key, variant, resource, undefined);
      this.decisions.set(memo, decision);
    }
    return decision;
  }

  /**
   * Whether a variant permits one resource: its scope allowance, then the policies.
   * @param variant - the request or a variant
   * @param resource - `%resource`
   * @param doc - the stored document of `resource` when there is one (its search values are reused)
   * @param before - `%before`
   * @returns true on permit
   */
  async permits(variant: PolicyRequest, resource: Resource, doc?: ResourceDocument, before?: Resource): Promise<boolean> {
    const scope = this.scopeFor(variant);
    if (scope.kind === 'none') return false;
    if (scope.kind === 'some' && !scope.test(doc?.index ? doc : indexed(resource))) return false;
    return this.policiesPermit(variant, resource, before);
  }

  /**
   * Whether the caller may read a resource directly (`GET [type]/[id]`, or for `vread` one version of it,
   * `GET [type]/[id]/_history/[vid]`).
   * @param resource - the resource (public view)
   * @param interaction - `read` or `vread`
   * @param doc - the stored document it comes from, when there is one (its search values are reused)
   * @returns true when the read would answer 200
   */
  async mayRead(resource: Resource, interaction: 'read' | 'vread' = 'read', doc?: ResourceDocument): Promise<boolean> {
    const request = readRequest(resource.resourceType, String(resource.id), interaction);
    const verdict = await this.verdict(request);
    return verdict.kind === 'open' && (await this.permits(request, resource, doc));
  }

  /**
   * Whether a resource is within what the scopes allow for a variant (the policies not consulted).
   * @param variant - the request or a variant
   * @param resource - the resource
   * @returns true when the scopes allow it
   */
  inScope(variant: PolicyRequest, resource: Resource): boolean {
    const scope = this.scopeFor(variant);
    return scope.kind === 'all' || (scope.kind === 'some' && scope.test(indexed(resource)));
  }

  /**
   * The policies' plan of a variant (memoized).
   * @param variant - the request or a variant
   * @returns permit-all, deny-all or per-resource
   */
  policyMode(variant: PolicyRequest): Promise<SearchPlan['mode']> {
    if (this.unrestricted) return Promise.resolve('permit-all');
    const key = this.key(variant);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = planSearch(this.session(key, variant)).then((p) => p.mode);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private async decide(key: string, variant: PolicyRequest, resource: Resource, before: Resource | undefined): Promise<boolean> {
    const decision = await this.session(key, variant).decide(asPolicyResource(resource), before && asPolicyResource(before));
    // The event names a deny's rule over a permit's: a refusal is what an auditor asks about.
    if (this.note && decision.policy && (this.note.rule === undefined || decision.effect === 'deny')) {
      this.note.rule = `AccessPolicy/${decision.policy}${decision.rulePath ? ` ${decision.rulePath}` : ''}`;
    }
    return decision.effect === 'permit';
  }

  private session(key: string, variant: PolicyRequest): PolicySession {
    let session = this.sessions.get(key);
    if (!session) {
      session = new PolicySession(this.principal, variant, { fetcher: this.sharedFetcher() });
      this.sessions.set(key, session);
    }
    return session;
  }

  /** One fetcher for every session of the request, made when a policy first fetches an attribute. */
  private sharedFetcher(): AttributeFetcher | undefined {
    const make = this.fetcher;
    if (!make) return undefined;
    const made = (): AttributeFetcher => (this.attributeFetcher ??= make());
    return { read: (type, id) => made().read(type, id), search: (type, query) => made().search(type, query) };
  }

  private readsField(field: keyof PolicyRequest): boolean {
    return this.fields === 'all' || this.fields.has(field);
  }

  /** The variant as the policies can tell it apart from others: only the members they read (memoized per object). */
  private key(variant: PolicyRequest): string {
    let key = this.keys.get(variant);
    if (key === undefined) {
      key = this.computeKey(variant);
      this.keys.set(variant, key);
    }
    return key;
  }

  private computeKey(variant: PolicyRequest): string {
    if (this.fields !== 'all') {
      let key = '';
      for (const field of this.fields) key += `${field}=${field === 'body' ? this.bodyKey(variant.body) : JSON.stringify(variant[field]) ?? ''}|`;
      return key;
    }
    const { body, ...rest } = variant;
    return `${JSON.stringify(rest)}|${this.bodyKey(body)}`;
  }

  private bodyKey(body: unknown): string {
    if (body === undefined) return '';
    return body === this.request.body ? '@request' : (JSON.stringify(body) ?? '');
  }
}

function isKeyed(interaction: PolicyInteraction): boolean {
  return interaction === 'read' || interaction === 'vread' || interaction === 'history-instance';
}

/**
 * The filter that keeps, of the given types, only what the scopes allow; types refused are left out.
 * @param allowed - per open type, its scope allowance(s) (all of them must hold)
 * @param searched - the distinct types searched
 * @returns the filter, or undefined when every type is allowed without restriction
 */
export function scopeFilter(allowed: ReadonlyMap<string, readonly ScopeAllowance[]>, searched: ReadonlySet<string>): Filter | undefined {
  const plain: string[] = [];
  const branches: Filter[] = [];
  for (const [type, allowances] of allowed) {
    const restrictions = allowances.flatMap((a) => (a.kind === 'some' ? [a.filter] : []));
    if (restrictions.length === 0) plain.push(type);
    else branches.push({ type, $and: restrictions });
  }
  if (branches.length === 0 && plain.length === searched.size) return undefined;
  if (plain.length > 0) branches.unshift({ type: plain.length === 1 ? plain[0] : { $in: plain } });
  if (branches.length === 0) return { type: { $in: [] } };
  return branches.length === 1 ? branches[0] : { $or: branches };
}
