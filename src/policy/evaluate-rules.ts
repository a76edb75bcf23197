/**
 * Rule evaluation for one rule-engine policy (docs/access-policies.md, "Semantics").
 * - A rule applies when its target is true (no target: always). Not applicable → `none`.
 * - An applicable rule whose condition is not true (no condition: true) yields `none`.
 * - Otherwise a rule without nested rules yields its effect (default permit).
 * - A rule with nested rules yields the combination of its nested rules (combineBehavior):
 *   `any` (default): deny if one denies, else permit if one permits, else none;
 *   `all`: deny if one denies, else permit if every one permits, else none;
 *   a combined permit then becomes the rule's own effect (a deny group turns what its members permit into deny).
 * - The top-level rules of a policy combine like `any`: deny overrides permit.
 * - "True" is exactly the singleton `true`; an expression that throws makes its rule deny (fail closed).
 * Evaluation stops at the first deny: nothing can override it.
 */
import type { CompiledExpression, CompiledRule, Outcome, TraceEntry } from './types';

/** What evaluating a rule (or a list of rules) yields, and which rule decided. */
export interface RuleResult {
  outcome: Outcome;
  /** Path of the rule that decided a permit or deny. */
  decisive?: string;
}

/** Where one policy's rules are evaluated. */
export interface RuleScope {
  policyId: string;
  /** The input collection (the resource, or undefined). */
  focus: unknown;
  env: Readonly<Record<string, unknown>>;
  trace: TraceEntry[];
}

type Truth = { value: boolean } | { error: string };

function truth(expression: CompiledExpression, scope: RuleScope): Truth {
  try {
    const result = expression.evaluate(scope.focus, scope.env);
    return { value: result.length === 1 && result[0] === true };
  } catch (err) {
    return { error: `${expression.location}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function entry(scope: RuleScope, rule: CompiledRule, result: TraceEntry['result'], detail?: string): TraceEntry {
  const traced: TraceEntry = { policy: scope.policyId, rule: rule.path, result };
  if (rule.name !== undefined) traced.name = rule.name;
  if (detail !== undefined) traced.detail = detail;
  scope.trace.push(traced);
  return traced;
}

const NONE: RuleResult = Object.freeze({ outcome: 'none' });

/**
 * A rule's target or condition: undefined when it lets the rule go on (absent or true), otherwise the rule's result
 * (an error denies, fail closed; false stops the rule with no effect).
 */
function gateResult(rule: CompiledRule, gate: CompiledExpression | undefined, falseResult: 'not-applicable' | 'condition-false', scope: RuleScope): RuleResult | undefined {
  if (!gate) return undefined;
  const t = truth(gate, scope);
  if ('error' in t) {
    entry(scope, rule, 'error', t.error);
    return { outcome: 'deny', decisive: rule.path };
  }
  if (t.value) return undefined;
  entry(scope, rule, falseResult);
  return NONE;
}

/**
 * Evaluates one rule and its nested rules, appending to the trace.
 * @param rule - the compiled rule
 * @param scope - focus, variables and trace
 * @returns the rule's outcome
 */
export function evaluateRule(rule: CompiledRule, scope: RuleScope): RuleResult {
  const stopped = gateResult(rule, rule.target, 'not-applicable', scope) ?? gateResult(rule, rule.condition, 'condition-false', scope);
  if (stopped) return stopped;
  if (rule.rules.length === 0) {
    entry(scope, rule, rule.effect);
    return { outcome: rule.effect, decisive: rule.path };
  }
  const group = entry(scope, rule, 'no-effect');
  const combined = combineRules(rule.rules, rule.combineBehavior, scope);
  let result = combined;
  // A deny group, or an `all` group (no single member decided), is itself the deciding rule.
  if (combined.outcome === 'permit' && (rule.effect === 'deny' || rule.combineBehavior === 'all')) result = { outcome: rule.effect, decisive: rule.path };
  group.result = result.outcome === 'none' ? 'no-effect' : result.outcome;
  return result;
}

/**
 * Evaluates rules and combines their outcomes; deny overrides permit in both behaviours.
 * @param rules - sibling rules
 * @param behavior - `any`: one permit suffices; `all`: every rule must permit
 * @param scope - focus, variables and trace
 * @returns the combined outcome
 */
export function combineRules(rules: readonly CompiledRule[], behavior: 'any' | 'all', scope: RuleScope): RuleResult {
  let firstPermit: string | undefined;
  let allPermit = true;
  for (const rule of rules) {
    const result = evaluateRule(rule, scope);
    if (result.outcome === 'deny') return result;
    if (result.outcome === 'permit') firstPermit ??= result.decisive;
    else allPermit = false;
  }
  if (behavior === 'all') return allPermit && rules.length > 0 ? { outcome: 'permit', decisive: firstPermit } : NONE;
  return firstPermit !== undefined ? { outcome: 'permit', decisive: firstPermit } : NONE;
}
