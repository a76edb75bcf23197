/**
 * Which members of `%request` a principal's policies read. Two requests that agree on those members get the same
 * decisions for the same resource, so the enforcement point can judge a resource once for both (a search match
 * that must also be readable) and share one policy session between reads of different ids.
 *
 * Read from the expressions' parse trees (ast.ts), conservatively: every use of the variable (however it is
 * spelled: `%request`, `` %`request` ``, `%'request'`) must be `.member` with a member of {@link PolicyRequest};
 * anything else (`%request` alone, passed to a function, `%request.select(...)`, a delimited member name) counts as
 * reading the whole request.
 */
import type { CompiledExpression, CompiledPolicy, CompiledRule, PolicyRequest } from './types';

/** The members of `%request`, or `all` when an expression may read any of them. */
export type RequestFields = ReadonlySet<keyof PolicyRequest> | 'all';

const MEMBERS: ReadonlySet<string> = new Set<keyof PolicyRequest>(['interaction', 'resourceType', 'id', 'parameters', 'body', 'compartment', 'operation']);

const byPolicy = new WeakMap<CompiledPolicy, RequestFields>();

function fieldsOf(expression: CompiledExpression, into: Set<keyof PolicyRequest>): boolean {
  if (expression.requestMembers === 'all') return false;
  for (const member of expression.requestMembers) {
    if (!MEMBERS.has(member)) return false;
    into.add(member as keyof PolicyRequest);
  }
  return true;
}

function expressionsOf(policy: CompiledPolicy): CompiledExpression[] {
  const found: CompiledExpression[] = [];
  const visit = (rule: CompiledRule): void => {
    if (rule.target) found.push(rule.target);
    if (rule.condition) found.push(rule.condition);
    rule.rules.forEach(visit);
  };
  policy.rules.forEach(visit);
  for (const attribute of policy.attributes) {
    found.push(attribute.source);
    if (attribute.params) found.push(attribute.params);
  }
  return found;
}

function policyFields(policy: CompiledPolicy): RequestFields {
  let fields = byPolicy.get(policy);
  if (!fields) {
    const set = new Set<keyof PolicyRequest>();
    fields = expressionsOf(policy).every((e) => fieldsOf(e, set)) ? set : 'all';
    byPolicy.set(policy, fields);
  }
  return fields;
}

/**
 * The members of `%request` any of the policies reads.
 * @param policies - the principal's compiled policies
 * @returns the members, or `all`
 */
export function requestFieldsOf(policies: readonly CompiledPolicy[]): RequestFields {
  // A principal's policy list is the cache's own array, the same for every request of a cache generation.
  let fields = byPolicyList.get(policies);
  if (!fields) {
    fields = unionOf(policies);
    byPolicyList.set(policies, fields);
  }
  return fields;
}

const byPolicyList = new WeakMap<readonly CompiledPolicy[], RequestFields>();

function unionOf(policies: readonly CompiledPolicy[]): RequestFields {
  const fields = new Set<keyof PolicyRequest>();
  for (const policy of policies) {
    const own = policyFields(policy);
    if (own === 'all') return 'all';
    for (const field of own) fields.add(field);
  }
  return fields;
}
