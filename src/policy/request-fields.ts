/**
 * Which members of `%request` a principal's policies read. Two requests that agree on those members get the same
 * decisions for the same resource, so the enforcement point can judge a resource once for both (a search match
 * that must also be readable) and share one policy session between reads of different ids.
 *
 * Read from the expressions' text, conservatively: every `%request` must be followed by `.member` with a member of
 * {@link PolicyRequest} (`%\`request\`` counts as `%request`); anything else (`%request` alone,
 * `%request.select(...)`, a delimited member name) counts as reading the whole request.
 */
import type { CompiledExpression, CompiledPolicy, CompiledRule, PolicyRequest } from './types';

/** The members of `%request`, or `all` when an expression may read any of them. */
export type RequestFields = ReadonlySet<keyof PolicyRequest> | 'all';

const MEMBERS: ReadonlySet<string> = new Set<keyof PolicyRequest>(['interaction', 'resourceType', 'id', 'parameters', 'body', 'compartment', 'operation']);
const REFERENCE = /%(?:request\b|`request`)(?:\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?/g;

const byPolicy = new WeakMap<CompiledPolicy, RequestFields>();

function fieldsOfText(source: string, into: Set<keyof PolicyRequest>): boolean {
  for (const match of source.matchAll(REFERENCE)) {
    const member = match[1];
    if (member === undefined || !MEMBERS.has(member)) return false;
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
    fields = expressionsOf(policy).every((e) => fieldsOfText(e.source, set)) ? set : 'all';
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
  const fields = new Set<keyof PolicyRequest>();
  for (const policy of policies) {
    const own = policyFields(policy);
    if (own === 'all') return 'all';
    for (const field of own) fields.add(field);
  }
  return fields;
}
