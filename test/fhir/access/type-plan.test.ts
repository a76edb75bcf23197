import { AccessJudge, readRequest } from '../../../src/fhir/access/judge';
import { ScopeGate } from '../../../src/fhir/access/scope-gate';
import { planTypes, type TypeCheck } from '../../../src/fhir/access/type-plan';
import { requestFieldsOf } from '../../../src/policy/request-fields';
import type { PolicyPrincipal } from '../../../src/policy/types';
import type { ResourceDocument } from '../../../src/storage/ports';
import { member, policy, request } from '../../policy/helpers';

const BASE = 'https://fhir.example.test/fhir';
const SEARCH = request('search-type', 'Observation', { parameters: [{ name: 'code', value: 'x' }] });

function judgeOf(principal: PolicyPrincipal, scopes?: string[]): AccessJudge {
  return new AccessJudge(principal, SEARCH, scopes ? new ScopeGate(scopes, 'pat1', BASE) : undefined, undefined);
}

/** The checks a search match passes: the search itself, and the read of it. */
function matchChecks(judge: AccessJudge): (type: string) => TypeCheck[] {
  return (type) => [
    { request: judge.asType(type), primary: true },
    { request: readRequest(type, undefined), forResource: (doc) => readRequest(type, doc.id), primary: false },
  ];
}

function doc(type: string, id: string, resource: Record<string, unknown> = {}): ResourceDocument {
  return { _id: `t/p/${type}/${id}`, project: 't/p', type, id, versionId: 1, lastUpdated: '2026-01-01T00:00:00.000Z', deleted: false, method: 'create', resource: { resourceType: type, id, ...resource } };
}

const perType = policy({
  rule: [{ target: { expression: "%request.resourceType in ('Observation' | 'Patient')" } }],
});
const byStatus = policy({
  rule: [{ target: { expression: "%request.resourceType = 'Observation'" }, condition: { expression: "%resource.status = 'final'" } }, { target: { expression: "%request.resourceType = 'Patient'" } }],
});
const byInteraction = policy({
  rule: [{ target: { expression: "%request.interaction = 'search-type' and %request.resourceType = 'Observation'" } }],
});

describe('planning a search over types', () => {
  it('judges nothing per resource when every type is permitted without conditions (the fast path)', async () => {
    const judge = judgeOf(member([perType]), ['user/*.rs']);
    const plan = await planTypes(judge, ['Observation', 'Patient'], matchChecks(judge));
    expect(plan).toMatchObject({ refused: undefined, filter: undefined, perResource: false });
    expect(await plan.accept(doc('Observation', 'o1'), true)).toBe(true);
    // A type the policies never permit is left out of the store's filter, without judging anything.
    const mixed = await planTypes(judge, ['Observation', 'Practitioner'], matchChecks(judge));
    expect(mixed).toMatchObject({ refused: undefined, filter: { type: 'Observation' }, perResource: false });
    expect(await mixed.accept(doc('Practitioner', 'pr1'), true)).toBe(false);
  });

  it('pushes scope restrictions into the filter and still judges nothing per resource', async () => {
    const judge = judgeOf(member([perType]), ['patient/Observation.rs', 'user/Patient.rs']);
    const plan = await planTypes(judge, ['Observation', 'Patient'], matchChecks(judge));
    expect(plan.perResource).toBe(false);
    expect(plan.filter).toMatchObject({ $or: [{ type: 'Patient' }, { type: 'Observation' }] });
  });

  it('judges each resource of a type the policies decide per resource, by the search and by the read of it', async () => {
    const judge = judgeOf(member([byStatus]), ['user/*.rs']);
    const plan = await planTypes(judge, ['Observation', 'Patient'], matchChecks(judge));
    expect(plan.perResource).toBe(true);
    expect(await plan.accept(doc('Observation', 'o1', { status: 'final' }), true)).toBe(true);
    expect(await plan.accept(doc('Observation', 'o2', { status: 'preliminary' }), true)).toBe(false);
    expect(await plan.accept(doc('Patient', 'p1'), true)).toBe(true);
  });

  it('leaves out, without refusing, a type the caller may search but not read', async () => {
    const judge = judgeOf(member([byInteraction]), ['user/*.rs']);
    const plan = await planTypes(judge, ['Observation'], matchChecks(judge));
    expect(plan.refused).toBeUndefined();
    expect(plan.filter).toEqual({ type: { $in: [] } });
    const scopesOnly = judgeOf(member([perType]), ['user/Observation.s']);
    expect(await planTypes(scopesOnly, ['Observation'], matchChecks(scopesOnly))).toMatchObject({ refused: undefined, filter: { type: { $in: [] } } });
  });

  it('refuses when every type is refused by the search itself, naming scopes only when they alone refused', async () => {
    const judge = judgeOf(member([perType]), ['user/Patient.rs']);
    expect((await planTypes(judge, ['Observation'], matchChecks(judge))).refused).toBe('scope');
    const policies = judgeOf(member([perType]), ['user/*.rs']);
    expect((await planTypes(policies, ['Practitioner'], matchChecks(policies))).refused).toBe('policy');
  });
});

describe('the request members policies read', () => {
  it('lists them, or says all when an expression may read any', () => {
    expect(requestFieldsOf([perType])).toEqual(new Set(['resourceType']));
    expect(requestFieldsOf([perType, byInteraction])).toEqual(new Set(['resourceType', 'interaction']));
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%request.select(id) = 'x'" } }] })])).toBe('all');
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: '%request.exists()' } }] })])).toBe('all');
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%`request`.id = 'x'" } }] })])).toEqual(new Set(['id']));
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%request.`id` = 'x'" } }] })])).toBe('all');
    // Every spelling of the variable is the same variable.
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%'request'.id = 'x'" } }] })])).toEqual(new Set(['id']));
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%'request'.exists()" } }] })])).toBe('all');
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "defineVariable('r', %'request').select(%r.id) = 'x'" } }] })])).toBe('all');
    // Text that only looks like the variable is not read.
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%resource.note.text = '%request.body'" } }] })])).toEqual(new Set());
    expect(requestFieldsOf([policy({ rule: [{ condition: { expression: "%resource.status = 'final'" } }] })])).toEqual(new Set());
  });

  it('keeps a read judged with its own id when a policy reads %request.id', async () => {
    const byId = policy({ rule: [{ target: { expression: "%request.interaction = 'read' and %request.id = 'o1'" } }, { target: { expression: "%request.interaction = 'search-type'" } }] });
    const judge = judgeOf(member([byId]), ['user/*.rs']);
    const plan = await planTypes(judge, ['Observation'], matchChecks(judge));
    expect(plan.perResource).toBe(true);
    expect(await plan.accept(doc('Observation', 'o1'), true)).toBe(true);
    expect(await plan.accept(doc('Observation', 'o2'), true)).toBe(false);
  });
});
