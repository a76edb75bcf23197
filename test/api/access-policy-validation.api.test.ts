import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const policy = (rules: unknown[], extra: Record<string, unknown> = {}) => ({
  resourceType: 'AccessPolicy',
  name: 'Patients read their own data',
  engine: 'rule-engine',
  target: [{ link: { reference: 'Membership/owner' } }],
  rule: rules,
  ...extra,
});
const readOwn = { name: 'own', target: { expression: "%request.interaction = 'read'" }, condition: { expression: "%resource.subject.reference = 'Patient/' + %fhirUser.id" } };

describe('writing an AccessPolicy compiles its expressions', () => {
  it('PUT with a syntax error in rule[1].condition → 400 naming the element', async () => {
    const res = await t.api
      .put(`${t.base}/AccessPolicy/broken`)
      .set('Content-Type', FHIR_JSON)
      .send({ ...policy([readOwn, { condition: { expression: "%resource.subject.where(reference = 'x'" } }]), id: 'broken' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'invalid',
          diagnostics: "FHIRPath syntax error: line: 1; column: 39; message: missing ')' at '<EOF>'",
          expression: ['AccessPolicy.rule[1].condition.expression'],
        },
      ],
    });
    expect((await t.api.get(`${t.base}/AccessPolicy/broken`)).status).toBe(404);
  });

  it('POST with an unknown variable → 400 naming the element', async () => {
    const res = await t.api.post(`${t.base}/AccessPolicy`).set('Content-Type', FHIR_JSON).send(policy([readOwn, { condition: { expression: "%patient.id = 'x'" } }]));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', diagnostics: 'Unknown variable %patient', expression: ['AccessPolicy.rule[1].condition.expression'] }],
    });
  });

  it('names nested rules and attributes, every problem at once', async () => {
    const res = await t.api
      .post(`${t.base}/AccessPolicy`)
      .set('Content-Type', FHIR_JSON)
      .send(
        policy([{ rule: [readOwn, readOwn, { target: { expression: 'subject.resolve() is Patient' } }] }], {
          attribute: [{ attributeId: 'org', operation: { type: 'read', path: '%resource.managingOrganization' } }],
        }),
      );
    expect(res.status).toBe(400);
    expect(res.body.issue).toEqual([
      {
        severity: 'error',
        code: 'invalid',
        diagnostics: 'Unknown variable %resource (attributes are fetched once per request, before any resource is known)',
        expression: ['AccessPolicy.attribute[0].operation.path'],
      },
      {
        severity: 'error',
        code: 'invalid',
        diagnostics: 'resolve() is not available in access policies (it would fetch over the network); read related data with an attribute',
        expression: ['AccessPolicy.rule[0].rule[2].target.expression'],
      },
    ]);
  });

  it('PATCH that breaks an expression → 400 and the stored version is unchanged', async () => {
    const created = await t.api.put(`${t.base}/AccessPolicy/patched`).set('Content-Type', FHIR_JSON).send({ ...policy([readOwn]), id: 'patched' });
    expect(created.status).toBe(201);
    const res = await t.api
      .patch(`${t.base}/AccessPolicy/patched`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'replace', path: '/rule/0/condition/expression', value: '%resource.(' }]);
    expect(res.status).toBe(400);
    expect(res.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['AccessPolicy.rule[0].condition.expression'] });
    const read = await t.api.get(`${t.base}/AccessPolicy/patched`);
    expect(read.body.meta.versionId).toBe('1');
    expect(read.body.rule[0].condition.expression).toBe(readOwn.condition.expression);
  });

  it('a transaction entry with a broken policy fails the whole transaction, naming the entry and the element', async () => {
    const res = await t.api
      .post(t.base)
      .set('Content-Type', FHIR_JSON)
      .send({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: { resourceType: 'Patient', id: 'tx-p' }, request: { method: 'PUT', url: 'Patient/tx-p' } },
          { resource: { ...policy([readOwn, { target: { expression: '%nope' } }]), id: 'tx-ap' }, request: { method: 'PUT', url: 'AccessPolicy/tx-ap' } },
        ],
      });
    expect(res.status).toBe(400);
    expect(res.body.issue).toEqual([
      {
        severity: 'error',
        code: 'invalid',
        diagnostics: 'Bundle.entry[1] (PUT AccessPolicy/tx-ap): Unknown variable %nope',
        expression: ['Bundle.entry[1]', 'AccessPolicy.rule[1].target.expression'],
      },
    ]);
    expect((await t.api.get(`${t.base}/Patient/tx-p`)).status).toBe(404);
  });

  it('stores a valid policy', async () => {
    const res = await t.api.post(`${t.base}/AccessPolicy`).set('Content-Type', FHIR_JSON).send(policy([readOwn, { effect: 'deny', target: { expression: "%resource.meta.security.where(code = 'R').exists()" } }]));
    expect(res.status).toBe(201);
    expect(res.body.rule).toHaveLength(2);
  });
});
