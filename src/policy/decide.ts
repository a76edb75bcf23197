/**
 * The policy decision point (DESIGN §5.3): judges one request, or each resource of one request, for a principal.
 * - an inactive or unknown principal is denied;
 * - users with role owner or admin have full access to their project (no policy is consulted);
 * - otherwise every policy targeting the principal is evaluated: `full-access` permits, a rule-engine policy
 *   yields what its rules combine to (evaluate-rules.ts), a policy that no longer compiles denies;
 * - deny overrides permit across policies; nothing applicable = deny.
 * A {@link PolicySession} holds what is fixed for one request (variables, fetched attributes), so judging the
 * resources of a search one by one fetches every attribute once.
 */
import { AttributeResolver } from './attributes';
import { combineRules, type RuleResult } from './evaluate-rules';
import type { AttributeFetcher, CompiledPolicy, Decision, PolicyPrincipal, PolicyRequest, PolicyResource, TraceEntry } from './types';

/** Roles with full access to their project. */
export const FULL_ACCESS_ROLES: ReadonlySet<string> = new Set(['owner', 'admin']);

/** Options of a decision. */
export interface DecideOptions {
  /** Where attributes read their data (the repository of the principal's project). */
  fetcher?: AttributeFetcher;
}

/**
 * The request-level FHIRPath variables. Resource-level ones are declared (empty) so that a policy reading
 * `%before` on a create sees an empty collection rather than an error.
 * @param principal - the caller
 * @param request - the request
 * @returns the variables
 */
export function requestEnvironment(principal: PolicyPrincipal, request: PolicyRequest): Record<string, unknown> {
  return {
    user: principal.user,
    membership: principal.membership,
    fhirUser: principal.fhirUser,
    client: principal.client,
    scopes: principal.scopes,
    request,
    resource: undefined,
    before: undefined,
  };
}

/**
 * Whether the principal has full access by role, without consulting policies.
 * @param principal - the caller
 * @returns true for active owners and admins
 */
export function hasFullAccessRole(principal: PolicyPrincipal): boolean {
  return principal.active && principal.kind === 'user' && principal.role !== undefined && FULL_ACCESS_ROLES.has(principal.role);
}

/** Decisions for one request of one principal. */
export class PolicySession {
  private readonly attributes: AttributeResolver;

  /**
   * @param principal - the caller, with the policies that target it
   * @param request - the request being judged
   * @param options - the attribute fetcher
   */
  constructor(
    readonly principal: PolicyPrincipal,
    readonly request: PolicyRequest,
    options: DecideOptions = {},
  ) {
    this.attributes = new AttributeResolver(requestEnvironment(principal, request), options.fetcher);
  }

  /**
   * The variables one policy's rules see for this request (attributes fetched on first use).
   * @param policy - the policy
   * @returns the environment
   */
  policyEnvironment(policy: CompiledPolicy): Promise<Record<string, unknown>> {
    return this.attributes.envFor(policy);
  }

  /**
   * Judges the request, for one resource when given.
   * @param resource - `%resource`: the resource read, or the new version written
   * @param before - `%before`: the stored version an update, patch or delete replaces
   * @returns the decision with its trace
   */
  async decide(resource?: PolicyResource, before?: PolicyResource): Promise<Decision> {
    const { principal } = this;
    if (!principal.active) {
      const reason = `${principal.reference} is missing or inactive`;
      return { effect: 'deny', reason, trace: [{ result: 'deny', detail: reason }] };
    }
    if (hasFullAccessRole(principal)) {
      const reason = `role ${principal.role}: full access to the project`;
      return { effect: 'permit', reason, trace: [{ result: 'permit', detail: reason }] };
    }
    const trace: TraceEntry[] = [];
    let permit: { policy: string; rulePath?: string } | undefined;
    for (const policy of principal.policies) {
      const { outcome, decisive } = await this.evaluatePolicy(policy, resource, before, trace);
      if (outcome === 'deny') {
        return { effect: 'deny', policy: policy.id, rulePath: decisive, reason: `denied by AccessPolicy/${policy.id}${decisive ? ` ${decisive}` : ''}`, trace };
      }
      if (outcome === 'permit') permit ??= { policy: policy.id, rulePath: decisive };
    }
    if (permit) {
      return { effect: 'permit', ...permit, reason: `permitted by AccessPolicy/${permit.policy}${permit.rulePath ? ` ${permit.rulePath}` : ''}`, trace };
    }
    const reason = principal.policies.length === 0 ? `no AccessPolicy targets ${principal.reference}` : 'no rule applies';
    return { effect: 'deny', reason, trace };
  }

  private async evaluatePolicy(policy: CompiledPolicy, resource: PolicyResource | undefined, before: PolicyResource | undefined, trace: TraceEntry[]): Promise<RuleResult> {
    if (policy.brokenReason !== undefined) {
      trace.push({ policy: policy.id, result: 'error', detail: `the stored policy does not compile: ${policy.brokenReason}` });
      return { outcome: 'deny' };
    }
    if (policy.engine === 'full-access') {
      trace.push({ policy: policy.id, result: 'permit', detail: 'full-access engine' });
      return { outcome: 'permit' };
    }
    const summary: TraceEntry = { policy: policy.id, result: 'no-effect', detail: 'rule-engine' };
    trace.push(summary);
    const base = await this.attributes.envFor(policy);
    const env = resource === undefined && before === undefined ? base : withResource(base, resource, before);
    const result = combineRules(policy.rules, 'any', { policyId: policy.id, focus: resource, env, trace });
    summary.result = result.outcome === 'none' ? 'no-effect' : result.outcome;
    return result;
  }
}

function withResource(base: Record<string, unknown>, resource: PolicyResource | undefined, before: PolicyResource | undefined): Record<string, unknown> {
  // The request's own variables (no attributes): a flat copy, the same shape every time. Making a fresh object the
  // prototype of another on every request would cost V8 a prototype transition each time.
  if (Object.getPrototypeOf(base) === Object.prototype) return { ...base, resource, before };
  const env = Object.create(base) as Record<string, unknown>;
  env.resource = resource;
  env.before = before;
  return env;
}

/**
 * Judges one request (a one-off {@link PolicySession}).
 * @param principal - the caller, with the policies that target it
 * @param request - the request
 * @param resource - `%resource`
 * @param before - `%before`
 * @param options - the attribute fetcher
 * @returns the decision
 */
export function decide(
  principal: PolicyPrincipal,
  request: PolicyRequest,
  resource?: PolicyResource,
  before?: PolicyResource,
  options: DecideOptions = {},
): Promise<Decision> {
  return new PolicySession(principal, request, options).decide(resource, before);
}
