/**
 * The AuditEvents of each kind of decision, who may read and search them, and that nobody writes them through the
 * API — owners included.
 */
import request from 'supertest';
import type { Resource } from '../../src/fhir/repository/repository';
import { KeyStore } from '../../src/oauth/tokens/keys';
import { clientCredentialsToken, type TestApp } from '../helpers/build-test-app';
import { codeTokens, FHIR, OAUTH, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';
import { agentRefs, type AuditEventJson, entityRefs, requestCount, storedAuditEvents, subtypes } from './audit-fixtures';

let fx: OAuthFixture;
let t: TestApp;
const CLINIC = ['clinic', 'clinic-secret-0123456789abcdef'] as const;
const AUDITOR = ['auditor', 'auditor-secret-0123456789abcdef'] as const;
let clinic: string;
let auditor: string;

/** A confidential client_credentials client with one rule-engine policy. */
async function clientWithPolicy(id: string, secret: string, scope: string, rules: unknown[]): Promise<void> {
  await fx.repo.update('ClientApplication', id, {
    resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope,
  } as Resource);
  await fx.repo.update('AccessPolicy', id, { resourceType: 'AccessPolicy', id, name: id, engine: 'rule-engine', target: [{ link: { reference: `ClientApplication/${id}` } }], rule: rules } as Resource);
}

const get = (token: string, path: string): request.Test => request(t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
const send = (token: string, method: 'post' | 'put' | 'patch' | 'delete', path: string): request.Test => request(t.app)[method](`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
const bundleOf = (e: { resource: AuditEventJson }) => e.resource;

beforeAll(async () => {
  fx = await setupOAuth({ AUDIT: 'on', SEED_DEMO: 'false' });
  t = fx.t;
  for (const [id, family] of [['pat-1', 'One'], ['pat-2', 'Two']]) await fx.repo.update('Patient', id as string, { resourceType: 'Patient', id, name: [{ family }] } as Resource);
  await fx.repo.update('Observation', 'obs-1', { resourceType: 'Observation', id: 'obs-1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/pat-1' } } as Resource);
  await fx.repo.update('Observation', 'obs-2', { resourceType: 'Observation', id: 'obs-2', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/pat-2' } } as Resource);
  // Everything clinical, nothing of the audit trail; the auditor: only AuditEvents.
  await clientWithPolicy(CLINIC[0], CLINIC[1], 'system/*.rs', [{ name: 'clinical', target: { expression: "%request.resourceType in ('Patient' | 'Observation')" } }]);
  // (It reads the clinical types too: an AuditEvent shows a reader only what it names that the reader may read.)
  await clientWithPolicy(AUDITOR[0], AUDITOR[1], 'system/AuditEvent.rs system/Patient.rs system/Observation.rs', [
    { name: 'audit trail and chart', target: { expression: "%request.resourceType in ('AuditEvent' | 'Patient' | 'Observation')" } },
  ]);
  clinic = await clientCredentialsToken(t.app, 'default', 'default', CLINIC[0], CLINIC[1]);
  auditor = await clientCredentialsToken(t.app, 'default', 'default', AUDITOR[0], AUDITOR[1]);
  await get(clinic, '/Observation/obs-1').expect(200);
  await get(clinic, '/Patient/pat-2').expect(200);
  await t.audit.trail?.flush();
});
afterAll(async () => {
  await t.close();
});

describe('who may read AuditEvents', () => {
  it('owners, admins and callers whose policy permits AuditEvent read and search them; others get 403', async () => {
    await t.api.get(`${FHIR}/AuditEvent?_count=1`).expect(200);
    const search = await get(auditor, '/AuditEvent?_count=5').expect(200);
    const [first] = (search.body.entry as Array<{ resource: AuditEventJson }>).map(bundleOf);
    await get(auditor, `/AuditEvent/${String(first?.id)}`).expect(200);
    await get(clinic, '/AuditEvent').expect(403);
    await get(clinic, `/AuditEvent/${String(first?.id)}`).expect(403);
    // A system search shows the clinic nothing of the trail.
    const everything = await get(clinic, '/?_count=100').expect(200);
    expect((everything.body.entry as Array<{ resource: AuditEventJson }>).map(bundleOf).filter((r) => r.resourceType === 'AuditEvent')).toEqual([]);
  });

  it('answers AuditEvent?patient=Patient/x with who touched that patient\'s data, and nothing of other patients', async () => {
    await t.audit.trail?.flush();
    const res = await get(auditor, '/AuditEvent?patient=Patient/pat-1&subtype=read').expect(200);
    const events = (res.body.entry as Array<{ resource: AuditEventJson }>).map(bundleOf);
    expect(events).toHaveLength(1);
    expect(entityRefs(events[0] as AuditEventJson)).toEqual(expect.arrayContaining(['Patient/pat-1', 'Observation/obs-1/_history/1']));
    expect(agentRefs(events[0] as AuditEventJson)).toEqual(['ClientApplication/clinic']);
    // Every record found for pat-2 names pat-2; the read of pat-1's Observation is not among them.
    const other = (await get(auditor, '/AuditEvent?patient=pat-2').expect(200)).body.entry.map(bundleOf) as AuditEventJson[];
    expect(other.length).toBeGreaterThanOrEqual(2);
    for (const event of other) expect(entityRefs(event)).toContain('Patient/pat-2');
    expect(other.map((e) => e.id)).not.toContain(events[0]?.id);
  });

  it('searches by agent, entity, type, subtype, outcome and date', async () => {
    await t.audit.trail?.flush();
    const ids = async (query: string): Promise<number> => ((await get(auditor, `/AuditEvent?${query}`).expect(200)).body.entry ?? []).length;
    expect(await ids('agent=ClientApplication/clinic&subtype=read&outcome=0')).toBe(2);
    // The read of obs-1 and the clinic's system search that returned it.
    expect(await ids('entity=Observation/obs-1/_history/1&agent=ClientApplication/clinic')).toBe(2);
    expect(await ids('entity=Observation/obs-1&agent=ClientApplication/clinic&subtype=read')).toBe(1);
    expect(await ids('type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest&outcome=4&agent=ClientApplication/clinic')).toBeGreaterThanOrEqual(1);
    expect(await ids('subtype=urn:fhir-smart-server:security-event|token-issued&agent=ClientApplication/auditor')).toBe(1);
    expect(await ids(`date=gt${new Date(Date.now() - 3_600_000).toISOString()}&agent=ClientApplication/clinic&subtype=read&outcome=0`)).toBe(2);
    // Reading the trail is itself recorded, as a use of the audit log.
    expect(await ids('subtype=http://dicom.nema.org/resources/ontology/DCM|110101&agent=ClientApplication/auditor')).toBeGreaterThanOrEqual(2);
    expect(await ids('date=lt2000-01-01')).toBe(0);
  });
});

describe('nobody writes AuditEvents through the API', () => {
  it('refuses create, update, patch, delete and conditional writes with 403, owners and admins included', async () => {
    const [existing] = await storedAuditEvents(t);
    const id = String(existing?.id);
    const body = { ...existing, outcome: '0', outcomeDesc: 'rewritten' };
    for (const token of [undefined, auditor]) {
      const as = (req: request.Test): request.Test => (token ? req.set('Authorization', `Bearer ${token}`) : req);
      await as(token ? send(token, 'post', '/AuditEvent') : t.api.post(`${FHIR}/AuditEvent`)).send({ ...body, id: undefined }).expect(403);
      await as(token ? send(token, 'put', `/AuditEvent/${id}`) : t.api.put(`${FHIR}/AuditEvent/${id}`)).send(body).expect(403);
      await as(token ? send(token, 'put', '/AuditEvent/new-one') : t.api.put(`${FHIR}/AuditEvent/new-one`)).send({ ...body, id: 'new-one' }).expect(403);
      await as(token ? send(token, 'patch', `/AuditEvent/${id}`) : t.api.patch(`${FHIR}/AuditEvent/${id}`))
        .set('Content-Type', 'application/json-patch+json')
        .send(JSON.stringify([{ op: 'replace', path: '/outcome', value: '0' }]))
        .expect(403);
      await as(token ? send(token, 'delete', `/AuditEvent/${id}`) : t.api.delete(`${FHIR}/AuditEvent/${id}`)).expect(403);
      await as(token ? send(token, 'delete', '/AuditEvent?outcome=0') : t.api.delete(`${FHIR}/AuditEvent?outcome=0`)).expect(403);
      await as(token ? send(token, 'put', '/AuditEvent?outcome=0') : t.api.put(`${FHIR}/AuditEvent?outcome=0`)).send(body).expect(403);
    }
    const transaction = await t.api
      .post(FHIR)
      .send({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `AuditEvent/${id}` } }] });
    expect(transaction.status).toBe(403);
    const batch = await t.api.post(FHIR).send({ resourceType: 'Bundle', type: 'batch', entry: [{ resource: { ...body, id: undefined }, request: { method: 'POST', url: 'AuditEvent' } }] }).expect(200);
    expect(batch.body.entry[0].response.status).toMatch(/^403/);
    const after = await t.api.get(`${FHIR}/AuditEvent/${id}`).expect(200);
    expect(after.body).toEqual(existing);
    // Each refusal is itself recorded, as refused because the type is read-only.
    const refusals = (await storedAuditEvents(t)).filter((e) => String(e.outcomeDesc).includes('403 refused by read-only'));
    expect(refusals.reduce((sum, e) => sum + requestCount(e), 0)).toBeGreaterThanOrEqual(14);
  });
});

describe('events of each kind', () => {
  it('records one event per Bundle entry besides the Bundle itself', async () => {
    const before = new Date().toISOString();
    await t.api
      .post(FHIR)
      .send({ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient/pat-1' } }, { request: { method: 'GET', url: 'Observation/obs-2' } }] })
      .expect(200);
    const events = (await storedAuditEvents(t)).filter((e) => e.recorded >= before);
    const batch = events.filter((e) => subtypes(e)[0] === 'batch');
    expect(batch).toHaveLength(1);
    const entries = events.filter((e) => String(e.outcomeDesc).endsWith('(Bundle entry)'));
    expect(entries.map((e) => entityRefs(e).filter((r) => !r.startsWith('AccessPolicy')))).toEqual(
      expect.arrayContaining([['Patient/pat-1'], ['Patient/pat-2', 'Observation/obs-2/_history/1']]),
    );
  });

  it('records the rotation of a signing key', async () => {
    const keys = new KeyStore(t.storage.records, t.keyEncryption, t.audit.listener, 'keys command');
    const { kid, retired } = await keys.rotate(t.boot.project.key);
    const [rotation] = (await storedAuditEvents(t)).filter((e) => subtypes(e).includes('signing-key-rotated'));
    expect(rotation).toMatchObject({ type: { code: '110113' }, action: 'U', outcome: '0', agent: [{ name: 'keys command', requestor: true }, expect.anything()] });
    expect((rotation as AuditEventJson).entity.map((e: { description: string }) => e.description)).toEqual([kid, retired]);
  });

  it('records an EHR launch with the user, the app launched and the patient', async () => {
    await fx.repo.update('ClientApplication', 'smart-app', {
      resourceType: 'ClientApplication', id: 'smart-app', name: 'SMART', status: 'active', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none',
      redirectUri: ['https://smart-app.example/cb'], launchUri: 'https://smart-app.example/launch', scope: 'launch openid patient/*.rs',
    } as Resource);
    const ehr = (await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId })).access_token as string;
    const res = await request(t.app).post(`${OAUTH}/launch`).set('Authorization', `Bearer ${ehr}`).type('form').send('client_id=smart-app&patient=pat-1').expect(200);
    const [launch] = (await storedAuditEvents(t)).filter((e) => subtypes(e).includes('launch-created'));
    expect(agentRefs(launch as AuditEventJson)).toEqual([`User/${fx.adminId}`, 'ClientApplication/web-app']);
    expect(entityRefs(launch as AuditEventJson)).toEqual(['Patient/pat-1', 'ClientApplication/smart-app']);
    expect(JSON.stringify(launch)).not.toContain(String(res.body.launch));
    expect(JSON.stringify(launch)).not.toContain(ehr);
  });
});
