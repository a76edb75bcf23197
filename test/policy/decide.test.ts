import { decide, PolicySession } from '../../src/policy/decide';
import type { AttributeFetcher, PolicyResource } from '../../src/policy/types';
import { member, policy, request } from './helpers';

const TRUE = { expression: 'true' };
const FALSE = { expression: 'false' };
const obs = (extra: Record<string, unknown> = {}): PolicyResource => ({ resourceType: 'Observation', id: 'o1', status: 'final', subject: { reference: 'Patient/pat1' }, ...extra });
const read = request('read', 'Observation', { id: 'o1' });

describe('one rule: target × condition × effect', () => {
  const cases: Array<[string, unknown, unknown, 'permit' | 'deny' | undefined, 'permit' | 'deny', string]> = [
    ['no target, no condition, permit', undefined, undefined, undefined, 'permit', 'permit'],
    ['no target, no condition, deny', undefined, undefined, 'deny', 'deny', 'deny'],
    ['target true, condition true, permit', TRUE, TRUE, 'permit', 'permit', 'permit'],
    ['target true, condition true, deny', TRUE, TRUE, 'deny', 'deny', 'deny'],
    ['target true, condition false, permit', TRUE, FALSE, 'permit', 'deny', 'condition-false'],
    ['target true, condition false, deny', TRUE, FALSE, 'deny', 'deny', 'condition-false'],
    ['target false, permit', FALSE, TRUE, 'permit', 'deny', 'not-applicable'],
    ['target false, deny', FALSE, TRUE, 'deny', 'deny', 'not-applicable'],
    ['target empty collection', { expression: '{}' }, undefined, 'permit', 'deny', 'not-applicable'],
    ['target a non-boolean singleton', { expression: "'yes'" }, undefined, 'permit', 'deny', 'not-applicable'],
    ['target two trues', { expression: 'true | true' }, undefined, 'permit', 'permit', 'permit'],
  ];
  it.each(cases)('%s', async (_name, target, condition, effect, expected, traced) => {
    const p = policy({ rule: [{ name: 'r', target, condition, effect }] });
    const decision = await decide(member([p]), read, obs());
    expect(decision.effect).toBe(expected);
    expect(decision.trace[1]).toEqual({ policy: 'p', rule: 'AccessPolicy.rule[0]', name: 'r', result: traced });
  });

  it('reports the deciding policy and rule', async () => {
    const p = policy({ rule: [{ target: FALSE }, { name: 'mine', condition: { expression: "%resource.subject.reference = 'Patient/' + %fhirUser.id" } }] });
    expect(await decide(member([p]), read, obs())).toEqual({
      effect: 'permit',
      policy: 'p',
      rulePath: 'AccessPolicy.rule[1]',
      reason: 'permitted by AccessPolicy/p AccessPolicy.rule[1]',
      trace: [
        { policy: 'p', result: 'permit', detail: 'rule-engine' },
        { policy: 'p', rule: 'AccessPolicy.rule[0]', result: 'not-applicable' },
        { policy: 'p', rule: 'AccessPolicy.rule[1]', name: 'mine', result: 'permit' },
      ],
    });
    expect((await decide(member([p]), read, obs({ subject: { reference: 'Patient/other' } }))).effect).toBe('deny');
  });
});

describe('combining', () => {
  it('deny overrides permit within a policy, whatever the order', async () => {
    for (const rules of [[{}, { effect: 'deny' }], [{ effect: 'deny' }, {}]]) {
      const decision = await decide(member([policy({ rule: rules })]), read, obs());
      expect(decision.effect).toBe('deny');
    }
  });

  it('deny overrides permit across policies, and full-access does not beat a deny', async () => {
    const full = policy({ id: 'a-full', engine: 'full-access' });
    const denyObs = policy({ id: 'b-deny', rule: [{ effect: 'deny', target: { expression: "%request.resourceType = 'Observation'" } }] });
    const decision = await decide(member([full, denyObs]), read, obs());
    expect(decision).toMatchObject({ effect: 'deny', policy: 'b-deny', rulePath: 'AccessPolicy.rule[0]' });
    expect((await decide(member([full, denyObs]), request('read', 'Patient'), { resourceType: 'Patient', id: 'x' })).effect).toBe('permit');
  });

  it('denies when nothing applies, when no policy targets the principal, and when a policy has no rules', async () => {
    expect(await decide(member([policy({ rule: [{ target: FALSE }] })]), read, obs())).toMatchObject({ effect: 'deny', reason: 'no rule applies' });
    expect(await decide(member([]), read, obs())).toMatchObject({ effect: 'deny', reason: 'no AccessPolicy targets Membership/m1', trace: [] });
    expect((await decide(member([policy({})]), read, obs())).effect).toBe('deny');
  });

  it('permits everything under full-access', async () => {
    const decision = await decide(member([policy({ engine: 'full-access' })]), request('delete', 'Patient', { id: 'x' }));
    expect(decision).toEqual({ effect: 'permit', policy: 'p', reason: 'permitted by AccessPolicy/p', trace: [{ policy: 'p', result: 'permit', detail: 'full-access engine' }] });
  });

  it('gives owners and admins full access without consulting policies', async () => {
    for (const role of ['owner', 'admin']) {
      const decision = await decide(member([policy({ rule: [{ effect: 'deny' }] })], { role }), read, obs());
      expect(decision).toEqual({ effect: 'permit', reason: `role ${role}: full access to the project`, trace: [{ result: 'permit', detail: `role ${role}: full access to the project` }] });
    }
  });

  it('denies an inactive principal even with full access', async () => {
    const decision = await decide(member([policy({ engine: 'full-access' })], { active: false, role: 'owner' }), read, obs());
    expect(decision).toMatchObject({ effect: 'deny', reason: 'Membership/m1 is missing or inactive' });
  });

  it('denies when a stored policy no longer compiles', async () => {
    const broken = { ...policy({ engine: 'full-access' }), brokenReason: 'Unknown variable %x' };
    expect(await decide(member([broken]), read, obs())).toMatchObject({ effect: 'deny', trace: [{ policy: 'p', result: 'error' }] });
  });

  it('denies when an expression throws (fail closed)', async () => {
    const p = policy({ rule: [{}, { name: 'boom', condition: { expression: '(1 | 2).single() = 1' } }] });
    const decision = await decide(member([p]), read, obs());
    expect(decision.effect).toBe('deny');
    expect(decision.trace[2]).toMatchObject({ rule: 'AccessPolicy.rule[1]', name: 'boom', result: 'error' });
  });
});

describe('nested rules', () => {
  const group = (combineBehavior: string | undefined, children: unknown[], effect?: string) => policy({ rule: [{ name: 'g', combineBehavior, effect, rule: children }] });

  it('any: one permitting rule suffices, a deny overrides', async () => {
    expect((await decide(member([group('any', [{ target: FALSE }, {}])]), read, obs())).effect).toBe('permit');
    expect((await decide(member([group(undefined, [{}, { effect: 'deny' }])]), read, obs())).effect).toBe('deny');
    expect((await decide(member([group('any', [{ target: FALSE }])]), read, obs())).effect).toBe('deny');
  });

  it('all: every nested rule must permit', async () => {
    expect(await decide(member([group('all', [{}, { condition: TRUE }])]), read, obs())).toMatchObject({ effect: 'permit', rulePath: 'AccessPolicy.rule[0]' });
    expect((await decide(member([group('all', [{}, { condition: FALSE }])]), read, obs())).effect).toBe('deny');
  });

  it('a group is gated by its own target and condition', async () => {
    const p = policy({ rule: [{ target: { expression: "%request.interaction = 'read'" }, condition: FALSE, rule: [{ effect: 'deny' }] }, {}] });
    expect((await decide(member([p]), read, obs())).effect).toBe('permit');
  });

  it('a deny group turns what its members permit into deny', async () => {
    const decision = await decide(member([group('any', [{ condition: { expression: "%resource.status = 'final'" } }], 'deny'), policy({ id: 'q', rule: [{}] })]), read, obs());
    expect(decision).toMatchObject({ effect: 'deny', policy: 'p', rulePath: 'AccessPolicy.rule[0]' });
    expect(decision.trace.slice(0, 3)).toEqual([
      { policy: 'p', result: 'deny', detail: 'rule-engine' },
      { policy: 'p', rule: 'AccessPolicy.rule[0]', name: 'g', result: 'deny' },
      { policy: 'p', rule: 'AccessPolicy.rule[0].rule[0]', result: 'permit' },
    ]);
  });

  it('reports the deepest deciding rule of an any group', async () => {
    const p = policy({ rule: [{ rule: [{ target: FALSE }, { rule: [{ target: FALSE }, { name: 'leaf' }] }] }] });
    expect(await decide(member([p]), read, obs())).toMatchObject({ effect: 'permit', rulePath: 'AccessPolicy.rule[0].rule[1].rule[1]' });
  });
});

describe('variables', () => {
  it('exposes the request, the principal, %resource and %before', async () => {
    const p = policy({
      rule: [
        {
          condition: {
            expression:
              "%request.interaction = 'update' and %request.id = 'o1' and %request.parameters.where(name = '_pretty').value = 'true' and " +
              "%user.email = 'u@example.test' and %membership.id = 'm1' and %fhirUser.id = 'pat1' and %scopes = 'user/*.*' and " +
              "%resource.status = 'amended' and %before.status = 'final' and status = 'amended' and %user.password.empty()",
          },
        },
      ],
    });
    const update = request('update', 'Observation', { id: 'o1', parameters: [{ name: '_pretty', value: 'true' }] });
    expect((await decide(member([p]), update, obs({ status: 'amended' }), obs())).effect).toBe('permit');
    expect((await decide(member([p]), update, obs({ status: 'amended' }), obs({ status: 'preliminary' }))).effect).toBe('deny');
  });

  it('leaves %resource and %before empty when absent', async () => {
    const p = policy({ rule: [{ condition: { expression: '%resource.empty() and %before.empty() and %client.empty()' } }] });
    expect((await decide(member([p]), request('search-type', 'Observation'))).effect).toBe('permit');
  });
});

describe('attributes', () => {
  const practitionerPolicy = () =>
    policy({
      attribute: [
        { attributeId: 'roles', operation: { type: 'search-type', path: "'PractitionerRole'", params: "'practitioner=Practitioner/' + %fhirUser.id" } },
        { attributeId: 'org', operation: { type: 'read', path: '%roles.organization' } },
      ],
      rule: [{ condition: { expression: "%resource.managingOrganization.reference = 'Organization/' + %org.id" } }],
    });
  const fetcher = () => {
    const calls: string[] = [];
    const f: AttributeFetcher = {
      read: async (type, id) => {
        calls.push(`read ${type}/${id}`);
        return type === 'Organization' && id === 'org1' ? { resourceType: 'Organization', id: 'org1' } : undefined;
      },
      search: async (type, query) => {
        calls.push(`search ${type}?${query.map(([n, v]) => `${n}=${v}`).join('&')}`);
        return [{ resourceType: 'PractitionerRole', id: 'r1', organization: { reference: 'Organization/org1' } }];
      },
    };
    return { f, calls };
  };
  const doctor = (p: ReturnType<typeof practitionerPolicy>) => member([p], { fhirUser: { resourceType: 'Practitioner', id: 'dr1' } });
  const patient = (org: string): PolicyResource => ({ resourceType: 'Patient', id: `in-${org}`, managingOrganization: { reference: `Organization/${org}` } });

  it('fetches each attribute once per request, in declaration order, and exposes it as %<id>', async () => {
    const { f, calls } = fetcher();
    const session = new PolicySession(doctor(practitionerPolicy()), request('search-type', 'Patient'), { fetcher: f });
    expect((await session.decide(patient('org1'))).effect).toBe('permit');
    expect((await session.decide(patient('org2'))).effect).toBe('deny');
    expect((await session.decide(patient('org1'))).effect).toBe('permit');
    expect(calls).toEqual(['search PractitionerRole?practitioner=Practitioner/dr1', 'read Organization/org1']);
  });

  it('denies when an attribute cannot be fetched', async () => {
    const failing: AttributeFetcher = { read: async () => undefined, search: async () => Promise.reject(new Error('store down')) };
    const decision = await decide(doctor(practitionerPolicy()), read, patient('org1'), undefined, { fetcher: failing });
    expect(decision.effect).toBe('deny');
    expect(decision.trace[1]).toMatchObject({ result: 'error', detail: expect.stringContaining('attribute %roles could not be fetched: store down') });
  });

  it('denies when no fetcher is configured', async () => {
    expect((await decide(doctor(practitionerPolicy()), read, patient('org1'))).effect).toBe('deny');
  });
});
