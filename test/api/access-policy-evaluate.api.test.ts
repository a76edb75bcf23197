import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;

const put = async (resource: Record<string, unknown>) => {
  const res = await t.api.put(`${t.base}/${String(resource.resourceType)}/${String(resource.id)}`).set('Content-Type', FHIR_JSON).send(resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown>;
};

const evaluate = (parameter: unknown[]) => t.api.post(`${t.base}/$evaluate-policy`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Parameters', parameter });
const asMember = (method: string, url: string, extra: unknown[] = []) =>
  evaluate([{ name: 'principal', valueReference: { reference: 'Membership/m-pat' } }, { name: 'method', valueCode: method }, { name: 'url', valueString: url }, ...extra]);
const param = (body: { parameter: Array<Record<string, unknown>> }, name: string) => body.parameter.find((p) => p.name === name);

const patientPolicy = (condition: string) => ({
  resourceType: 'AccessPolicy',
  id: 'patient-self',
  name: 'Patients read their own compartment',
  engine: 'rule-engine',
  target: [{ link: { reference: 'Membership/m-pat' } }],
  rule: [
    {
      name: 'read own observations',
      target: { expression: "%request.resourceType = 'Observation' and %request.interaction = 'read'" },
      condition: { expression: condition },
    },
    { name: 'restricted', effect: 'deny', target: { expression: "%resource.meta.security.where(code = 'R').exists()" } },
  ],
});

beforeAll(async () => {
  t = await buildTestApp();
  await put({ resourceType: 'Patient', id: 'ada' });
  await put({ resourceType: 'User', id: 'u-pat', email: 'ada@example.test', role: 'member', password: 'a long password 1' });
  await put({ resourceType: 'Membership', id: 'm-pat', user: { reference: 'User/u-pat' }, link: { reference: 'Patient/ada' }, active: true });
  await put({ resourceType: 'Observation', id: 'obs-ada', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/ada' } });
  await put({ resourceType: 'Observation', id: 'obs-bob', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/bob' } });
  await put({ resourceType: 'Observation', id: 'obs-secret', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/ada' }, meta: { security: [{ code: 'R' }] } });
  await put(patientPolicy("%resource.subject.reference = 'Patient/' + %fhirUser.id"));
});
afterAll(async () => {
  await t.close();
});

describe('POST $evaluate-policy', () => {
  it('explains a permitted read with the deciding policy, rule and trace', async () => {
    const res = await asMember('GET', 'Observation/obs-ada');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'permit' },
        { name: 'reason', valueString: 'permitted by AccessPolicy/patient-self AccessPolicy.rule[0]' },
        { name: 'policy', valueReference: { reference: 'AccessPolicy/patient-self' } },
        { name: 'rule', valueString: 'AccessPolicy.rule[0]' },
        { name: 'interaction', valueCode: 'read' },
        { name: 'trace', part: [{ name: 'policy', valueReference: { reference: 'AccessPolicy/patient-self' } }, { name: 'result', valueCode: 'permit' }, { name: 'detail', valueString: 'rule-engine' }] },
        {
          name: 'trace',
          part: [
            { name: 'policy', valueReference: { reference: 'AccessPolicy/patient-self' } },
            { name: 'rule', valueString: 'AccessPolicy.rule[0]' },
            { name: 'name', valueString: 'read own observations' },
            { name: 'result', valueCode: 'permit' },
          ],
        },
        {
          name: 'trace',
          part: [
            { name: 'policy', valueReference: { reference: 'AccessPolicy/patient-self' } },
            { name: 'rule', valueString: 'AccessPolicy.rule[1]' },
            { name: 'name', valueString: 'restricted' },
            { name: 'result', valueCode: 'not-applicable' },
          ],
        },
      ],
    });
  });

  it('denies another patient’s data and labelled data, naming the rule', async () => {
    const other = await asMember('GET', 'Observation/obs-bob');
    expect(param(other.body, 'decision')).toEqual({ name: 'decision', valueCode: 'deny' });
    expect(param(other.body, 'reason')).toEqual({ name: 'reason', valueString: 'no rule applies' });
    const secret = await asMember('GET', 'Observation/obs-secret');
    expect(param(secret.body, 'decision')?.valueCode).toBe('deny');
    expect(param(secret.body, 'rule')).toEqual({ name: 'rule', valueString: 'AccessPolicy.rule[1]' });
  });

  it('judges the very next request by the new version of a policy', async () => {
    await put(patientPolicy("%resource.subject.reference = 'Patient/bob'"));
    expect(param((await asMember('GET', 'Observation/obs-ada')).body, 'decision')?.valueCode).toBe('deny');
    expect(param((await asMember('GET', 'Observation/obs-bob')).body, 'decision')?.valueCode).toBe('permit');
    await put(patientPolicy("%resource.subject.reference = 'Patient/' + %fhirUser.id"));
    expect(param((await asMember('GET', 'Observation/obs-ada')).body, 'decision')?.valueCode).toBe('permit');
  });

  it('locks a deactivated membership out on the next request', async () => {
    await put({ resourceType: 'Membership', id: 'm-pat', user: { reference: 'User/u-pat' }, link: { reference: 'Patient/ada' }, active: false });
    const res = await asMember('GET', 'Observation/obs-ada');
    expect(param(res.body, 'decision')?.valueCode).toBe('deny');
    expect(param(res.body, 'reason')?.valueString).toBe('Membership/m-pat is missing or inactive');
    await put({ resourceType: 'Membership', id: 'm-pat', user: { reference: 'User/u-pat' }, link: { reference: 'Patient/ada' }, active: true });
    expect(param((await asMember('GET', 'Observation/obs-ada')).body, 'decision')?.valueCode).toBe('permit');
  });

  it('plans a search: deny-all, then per-resource for the member; permit-all for the admin client', async () => {
    // patient-self permits reads only.
    expect(param((await asMember('GET', 'Observation?subject=Patient/ada')).body, 'search')?.valueCode).toBe('deny-all');
    await put({
      resourceType: 'AccessPolicy',
      id: 'searcher',
      name: 'search own observations',
      engine: 'rule-engine',
      target: [{ link: { reference: 'Membership/m-pat' } }],
      rule: [
        {
          target: { expression: "%request.interaction = 'search-type' and %request.resourceType = 'Observation'" },
          condition: { expression: "%resource.subject.reference = 'Patient/' + %fhirUser.id" },
        },
      ],
    });
    const member = await asMember('GET', 'Observation?subject=Patient/ada');
    expect(param(member.body, 'interaction')?.valueCode).toBe('search-type');
    expect(param(member.body, 'search')?.valueCode).toBe('per-resource');
    expect(param((await asMember('GET', 'Patient')).body, 'search')?.valueCode).toBe('deny-all');
    const admin = await evaluate([
      { name: 'principal', valueReference: { reference: `ClientApplication/${t.config.adminClientId}` } },
      { name: 'method', valueCode: 'GET' },
      { name: 'url', valueString: 'Observation' },
    ]);
    expect(param(admin.body, 'decision')?.valueCode).toBe('permit');
    expect(param(admin.body, 'policy')).toEqual({ name: 'policy', valueReference: { reference: 'AccessPolicy/admin-full-access' } });
    expect(param(admin.body, 'search')?.valueCode).toBe('permit-all');
  });

  it('judges writes with %resource (the body) and %before (the stored version)', async () => {
    await put({
      resourceType: 'AccessPolicy',
      id: 'writer',
      name: 'writer',
      engine: 'rule-engine',
      target: [{ link: { reference: 'Membership/m-pat' } }],
      rule: [{ target: { expression: "%request.interaction = 'update'" }, condition: { expression: "%before.status = 'final' and %resource.status = 'amended'" } }],
    });
    const body = { resourceType: 'Observation', id: 'obs-ada', status: 'amended', code: { text: 'x' }, subject: { reference: 'Patient/ada' } };
    const ok = await asMember('PUT', 'Observation/obs-ada', [{ name: 'resource', resource: body }]);
    expect(param(ok.body, 'decision')?.valueCode).toBe('permit');
    const bad = await asMember('PUT', 'Observation/obs-ada', [{ name: 'resource', resource: { ...body, status: 'cancelled' } }]);
    expect(param(bad.body, 'decision')?.valueCode).toBe('deny');
    const patch = await asMember('PATCH', 'Observation/obs-ada', [{ name: 'body', valueString: JSON.stringify([{ op: 'replace', path: '/status', value: 'amended' }]) }]);
    expect(param(patch.body, 'decision')?.valueCode).toBe('deny');
    expect(param(patch.body, 'interaction')?.valueCode).toBe('patch');
  });

  it('uses attributes fetched through the repository', async () => {
    await put({ resourceType: 'Organization', id: 'org1', name: 'Clinic' });
    await put({ resourceType: 'Practitioner', id: 'dr' });
    await put({ resourceType: 'PractitionerRole', id: 'dr-at-org1', practitioner: { reference: 'Practitioner/dr' }, organization: { reference: 'Organization/org1' } });
    await put({ resourceType: 'Patient', id: 'in-org1', managingOrganization: { reference: 'Organization/org1' } });
    await put({ resourceType: 'Patient', id: 'in-org2', managingOrganization: { reference: 'Organization/org2' } });
    await put({ resourceType: 'User', id: 'u-dr', email: 'dr@example.test', role: 'member' });
    await put({ resourceType: 'Membership', id: 'm-dr', user: { reference: 'User/u-dr' }, link: { reference: 'Practitioner/dr' }, active: true });
    await put({
      resourceType: 'AccessPolicy',
      id: 'practitioners',
      name: 'Practitioners see patients of their organization',
      engine: 'rule-engine',
      target: [{ link: { reference: 'Membership/m-dr' } }],
      attribute: [{ attributeId: 'roles', operation: { type: 'search-type', path: "'PractitionerRole'", params: "'practitioner=Practitioner/' + %fhirUser.id" } }],
      rule: [{ target: { expression: "%request.resourceType = 'Patient'" }, condition: { expression: '%resource.managingOrganization.reference in %roles.organization.reference' } }],
    });
    const asDoctor = (url: string) =>
      evaluate([{ name: 'principal', valueReference: { reference: 'Membership/m-dr' } }, { name: 'method', valueCode: 'GET' }, { name: 'url', valueString: url }]);
    expect(param((await asDoctor('Patient/in-org1')).body, 'decision')?.valueCode).toBe('permit');
    expect(param((await asDoctor('Patient/in-org2')).body, 'decision')?.valueCode).toBe('deny');
  });

  it('answers 400 for bad input', async () => {
    const res = await evaluate([{ name: 'principal', valueReference: { reference: 'Patient/ada' } }, { name: 'method', valueCode: 'GET' }, { name: 'url', valueString: 'Patient' }]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', diagnostics: 'principal must be a valueReference to Membership/<id> or ClientApplication/<id>', expression: ['Parameters.parameter[0]'] }],
    });
    const missing = await evaluate([{ name: 'principal', valueReference: { reference: 'Membership/m-pat' } }]);
    expect(missing.status).toBe(400);
    expect(missing.body.issue[0]).toMatchObject({ code: 'required', diagnostics: 'The method parameter is required' });
    const notFhir = await asMember('GET', 'Patient/ada/_history/1/extra');
    expect(notFhir.status).toBe(400);
  });
});
