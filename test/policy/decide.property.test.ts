/**
 * Property test (issue 5, point 10): random policies (nested rules, permit/deny mixes, targets and conditions
 * true, false, missing, resource-dependent or failing) and random requests; the engine's decisions must equal
 * those of the reference evaluator below, which is written from the documented semantics and shares no code
 * with the engine. Search plans must agree with every possible resource.
 */
import { compileAccessPolicy } from '../../src/policy/compile';
import { PolicySession } from '../../src/policy/decide';
import { planSearch } from '../../src/policy/search-plan';
import type { PolicyPrincipal, PolicyRequest, PolicyResource } from '../../src/policy/types';
import { seededRandom as prng } from '../helpers/seeded-random';

interface World {
  interaction: string;
  resource?: { id: string; active?: boolean };
  before?: { id: string };
}

/** Each atom and what it means, computed directly from the world. `error` = the expression throws. */
const ATOMS: Record<string, (w: World) => boolean | 'error'> = {
  true: () => true,
  false: () => false,
  '{}': () => false,
  "'text'": () => false,
  '%resource.active': (w) => w.resource?.active === true,
  '%resource.active.not()': (w) => w.resource?.active === false,
  "%resource.id = 'a'": (w) => w.resource?.id === 'a',
  "%request.interaction = 'read'": (w) => w.interaction === 'read',
  "%request.interaction != 'update'": (w) => w.interaction !== 'update',
  '%before.exists()': (w) => w.before !== undefined,
  '(1 | 2).single() = 1': () => 'error',
  'iif(%resource.active, (1 | 2).single() = 1, false)': (w) => (w.resource?.active === true ? 'error' : false),
};
const ATOM_NAMES = Object.keys(ATOMS);

interface RuleSpec {
  target?: string;
  condition?: string;
  effect?: 'permit' | 'deny';
  combineBehavior?: 'any' | 'all';
  rule?: RuleSpec[];
}
interface PolicySpec {
  id: string;
  engine: 'full-access' | 'rule-engine';
  rule: RuleSpec[];
}

function generateRule(random: () => number, depth: number): RuleSpec {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  const rule: RuleSpec = {};
  if (random() < 0.6) rule.target = pick(ATOM_NAMES);
  if (random() < 0.5) rule.condition = pick(ATOM_NAMES);
  if (random() < 0.7) rule.effect = pick(['permit', 'deny']);
  if (depth < 3 && random() < 0.35) {
    if (random() < 0.7) rule.combineBehavior = pick(['any', 'all']);
    rule.rule = Array.from({ length: 1 + Math.floor(random() * 3) }, () => generateRule(random, depth + 1));
  }
  return rule;
}

/** The AccessPolicy JSON of a spec. */
function ruleJson(rule: RuleSpec): Record<string, unknown> {
  return {
    ...(rule.target !== undefined ? { target: { expression: rule.target } } : {}),
    ...(rule.condition !== undefined ? { condition: { expression: rule.condition } } : {}),
    ...(rule.effect ? { effect: rule.effect } : {}),
    ...(rule.combineBehavior ? { combineBehavior: rule.combineBehavior } : {}),
    ...(rule.rule ? { rule: rule.rule.map(ruleJson) } : {}),
  };
}

type Out = 'permit' | 'deny' | 'none';

/** The reference: the semantics of docs/access-policies.md, evaluated directly on the spec. */
function referenceRule(rule: RuleSpec, w: World): Out {
  for (const gate of [rule.target, rule.condition]) {
    if (gate === undefined) continue;
    const value = ATOMS[gate]?.(w);
    if (value === 'error') return 'deny';
    if (value !== true) return 'none';
  }
  const effect = rule.effect ?? 'permit';
  if (!rule.rule || rule.rule.length === 0) return effect;
  const outs = rule.rule.map((r) => referenceRule(r, w));
  let combined: Out;
  if (outs.includes('deny')) combined = 'deny';
  else if ((rule.combineBehavior ?? 'any') === 'all' ? outs.every((o) => o === 'permit') : outs.includes('permit')) combined = 'permit';
  else combined = 'none';
  return combined === 'permit' ? effect : combined;
}

function referencePolicy(policy: PolicySpec, w: World): Out {
  if (policy.engine === 'full-access') return 'permit';
  const outs = policy.rule.map((r) => referenceRule(r, w));
  return outs.includes('deny') ? 'deny' : outs.includes('permit') ? 'permit' : 'none';
}

function referenceDecision(principal: { active: boolean; role: string }, policies: PolicySpec[], w: World): { effect: 'permit' | 'deny'; policy?: string } {
  if (!principal.active) return { effect: 'deny' };
  if (principal.role === 'owner' || principal.role === 'admin') return { effect: 'permit' };
  const outs = policies.map((p) => referencePolicy(p, w));
  const denying = policies.find((_p, i) => outs[i] === 'deny');
  if (denying) return { effect: 'deny', policy: denying.id };
  const permitting = policies.find((_p, i) => outs[i] === 'permit');
  return permitting ? { effect: 'permit', policy: permitting.id } : { effect: 'deny' };
}

const RESOURCES: Array<World['resource']> = [undefined];
for (const id of ['a', 'b']) for (const active of [true, false, undefined]) RESOURCES.push({ id, ...(active === undefined ? {} : { active }) });

function toResource(r: World['resource']): PolicyResource | undefined {
  return r ? { resourceType: 'Patient', ...r } : undefined;
}

describe('engine vs reference evaluator on random policies', () => {
  it('decides as the reference on 3000 random policy sets and requests', async () => {
    const random = prng(20250105);
    let permits = 0;
    let nested = 0;
    for (let n = 0; n < 3000; n++) {
      const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
      const specs: PolicySpec[] = Array.from({ length: 1 + Math.floor(random() * 3) }, (_x, i) => ({
        id: `p${i}`,
        engine: random() < 0.12 ? 'full-access' : 'rule-engine',
        rule: Array.from({ length: Math.floor(random() * 4) }, () => generateRule(random, 1)),
      }));
      nested += specs.some((s) => s.rule.some((r) => r.rule)) ? 1 : 0;
      const who = { active: random() > 0.05, role: random() < 0.08 ? pick(['owner', 'admin']) : 'member' };
      const world: World = { interaction: pick(['read', 'update', 'search-type']), resource: pick(RESOURCES) };
      if (random() < 0.3) world.before = { id: 'a' };
      const principal: PolicyPrincipal = {
        project: 't/p',
        kind: 'user',
        reference: 'Membership/m',
        active: who.active,
        role: who.role,
        scopes: [],
        policies: specs.map((s) => {
          const { policy, issues } = compileAccessPolicy({ resourceType: 'AccessPolicy', id: s.id, name: s.id, engine: s.engine, rule: s.rule.map(ruleJson) });
          expect(issues).toEqual([]);
          return policy;
        }),
      };
      const request: PolicyRequest = { interaction: world.interaction as PolicyRequest['interaction'], resourceType: 'Patient', parameters: [] };
      const session = new PolicySession(principal, request);
      const decision = await session.decide(toResource(world.resource), world.before ? { resourceType: 'Patient', ...world.before } : undefined);
      const expected = referenceDecision(who, specs, world);
      if (decision.effect !== expected.effect || decision.policy !== expected.policy) {
        throw new Error(`case ${n}: engine ${JSON.stringify([decision.effect, decision.policy])} ≠ reference ${JSON.stringify(expected)}\n${JSON.stringify({ specs, who, world }, null, 1)}`);
      }
      permits += decision.effect === 'permit' ? 1 : 0;

      // The search plan must hold for every resource the request could meet.
      const plan = await planSearch(session);
      if (plan.mode !== 'per-resource') {
        for (const r of RESOURCES) {
          const effect = referenceDecision(who, specs, { ...world, resource: r }).effect;
          if (effect !== (plan.mode === 'permit-all' ? 'permit' : 'deny')) {
            throw new Error(`case ${n}: plan ${plan.mode} but the reference says ${effect} for ${JSON.stringify(r)}\n${JSON.stringify({ specs, who, world }, null, 1)}`);
          }
        }
      }
    }
    // The generator must exercise both outcomes and nesting.
    expect(permits).toBeGreaterThan(300);
    expect(permits).toBeLessThan(2700);
    expect(nested).toBeGreaterThan(300);
  });
});
