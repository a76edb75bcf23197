/**
 * Search planning: before running a search (or history), tell whether the policies decide the same for every
 * resource of the request, so results need no per-resource check, or whether each result must be judged
 * (`PolicySession.decide(resource)`), in which case paging must keep fetching until a page is full.
 *
 * The request is evaluated once with every resource-dependent expression (`%resource`, `%before`, `%context`,
 * the focus) treated as unknown, tracking the set of outcomes still possible. Expressions that do not depend on
 * the resource (`%request.resourceType = 'Patient'`) are evaluated, so a rule for another type drops out. The
 * sets over-approximate, so `permit-all` and `deny-all` are always right; `per-resource` may be cautious.
 */
import { hasFullAccessRole, type PolicySession } from './decide';
import type { CompiledExpression, CompiledPolicy, CompiledRule } from './types';

/** How a search must treat its results. */
export interface SearchPlan {
  /** `permit-all`: return results unfiltered; `deny-all`: refuse the search; `per-resource`: judge each result. */
  mode: 'permit-all' | 'deny-all' | 'per-resource';
  reason: string;
}

/** A set of possible outcomes as a bit mask. */
const PERMIT = 1;
const DENY = 2;
const NONE = 4;

type Gate = boolean | 'unknown' | 'error';

function gate(expression: CompiledExpression | undefined, env: Readonly<Record<string, unknown>>): Gate {
  if (!expression) return true;
  if (expression.dependsOnResource) return 'unknown';
  try {
    const result = expression.evaluate(undefined, env);
    return result.length === 1 && result[0] === true;
  } catch {
    return 'error';
  }
}

/**
 * The possible outcomes of sibling rules combined (deny overrides).
 * @param masks - each sibling's possible outcomes
 * @param behavior - `any` or `all`
 * @returns the possible combined outcomes
 */
export function combinePossible(masks: number[], behavior: 'any' | 'all'): number {
  const nonDeny = masks.every((m) => (m & (PERMIT | NONE)) !== 0);
  let result = masks.some((m) => (m & DENY) !== 0) ? DENY : 0;
  if (behavior === 'any') {
    if (nonDeny && masks.some((m) => (m & PERMIT) !== 0)) result |= PERMIT;
    if (masks.every((m) => (m & NONE) !== 0)) result |= NONE;
  } else {
    if (masks.length > 0 && masks.every((m) => (m & PERMIT) !== 0)) result |= PERMIT;
    if (nonDeny && (masks.length === 0 || masks.some((m) => (m & NONE) !== 0))) result |= NONE;
  }
  return result;
}

function possibleRule(rule: CompiledRule, env: Readonly<Record<string, unknown>>): number {
  let mask = 0;
  for (const expression of [rule.target, rule.condition]) {
    const g = gate(expression, env);
    if (g === 'error') return mask | DENY;
    if (g === false) return mask | NONE;
    // Unknown: false (none), true, or an error (deny, fail closed) for some resource.
    if (g === 'unknown') mask |= NONE | DENY;
  }
  let own: number;
  if (rule.rules.length === 0) own = rule.effect === 'deny' ? DENY : PERMIT;
  else {
    own = combinePossible(rule.rules.map((r) => possibleRule(r, env)), rule.combineBehavior);
    if (rule.effect === 'deny' && (own & PERMIT) !== 0) own = (own & ~PERMIT) | DENY;
  }
  return mask | own;
}

async function possiblePolicy(session: PolicySession, policy: CompiledPolicy): Promise<number> {
  if (policy.brokenReason !== undefined) return DENY;
  if (policy.engine === 'full-access') return PERMIT;
  const env = await session.policyEnvironment(policy);
  return combinePossible(policy.rules.map((r) => possibleRule(r, env)), 'any');
}

/**
 * Plans a search (or history) request.
 * @param session - the principal and the request (search-type, search-system, history-*)
 * @returns whether results need a per-resource decision
 */
export async function planSearch(session: PolicySession): Promise<SearchPlan> {
  const { principal } = session;
  if (!principal.active) return { mode: 'deny-all', reason: `${principal.reference} is missing or inactive` };
  if (hasFullAccessRole(principal)) return { mode: 'permit-all', reason: `role ${principal.role}: full access to the project` };
  const masks = await Promise.all(principal.policies.map((p) => possiblePolicy(session, p)));
  let combined = combinePossible(masks, 'any');
  // Nothing applicable = deny.
  if ((combined & NONE) !== 0) combined = (combined & ~NONE) | DENY;
  if (combined === PERMIT) return { mode: 'permit-all', reason: 'the policies permit this request whatever the resource' };
  if (combined === DENY) return { mode: 'deny-all', reason: 'the policies deny this request whatever the resource' };
  return { mode: 'per-resource', reason: 'the decision depends on each resource' };
}
