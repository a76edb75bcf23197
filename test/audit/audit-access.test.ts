/**
 * Who reads AuditEvents, and what they see of them (docs/audit.md "Who can read AuditEvents"):
 * - wildcard scopes never cover AuditEvent for a caller without full access, whatever its policy permits;
 * - owners, admins and full-access callers read AuditEvents as stored, wildcard scopes included;
 * - any other reader sees only the entities it could read directly, no query, a short outcomeDesc, and a search by
 *   withheld content finds nothing (no oracle);
 * - a patient reads the AuditEvents about their own compartment (accounting of disclosures).
 */
import request from 'supertest';
import type { Resource } from '../../src/fhir/repository/repository';
import { clientCredentialsToken, type TestApp } from '../helpers/build-test-app';
import { codeTokens, FHIR, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';
import { type AuditEventJson, entityRefs } from './audit-fixtures';

let fx: OAuthFixture;
let t: TestApp;

type Bundle = { total?: number; entry?: Array<{ resource: AuditEventJson; search?: { mode: string } }> };

const get = (token: string, path: string): request.Test => request(t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);

async function client(id: string, scope: string, rules: unknown[] | 'full-access'): Promise<string> {
  const secret = `${id}-secret-0123456789abcdef`;
  await fx.repo.update('ClientApplication', id, {
    resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope,
  } as Resource);
  const policy = rules === 'full-access' ? { engine: 'full-access' } : { engine: 'rule-engine', rule: rules };
  await fx.repo.update('AccessPolicy', id, { resourceType: 'AccessPolicy', id, name: id, target: [{ link: { reference: `ClientApplication/${id}` } }], ...policy } as Resource);
  return clientCredentialsToken(t.app, 'default', 'default', id, secret);
}

/** Every AuditEvent a search returns, over all pages. */
async function searchAll(token: string, query: string): Promise<AuditEventJson[]> {
  const found: AuditEventJson[] = [];
  let url: string | undefined = `${FHIR}/AuditEvent?${query}`;
  while (url) {
    const res = await request(t.app).get(url).set('Authorization', `Bearer ${token}`).expect(200);
    const body = res.body as Bundle & { link?: Array<{ relation: string; url: string }> };
    found.push(...(body.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource));
    const next = body.link?.find((l) => l.relation === 'next')?.url;
    url = next ? `${new URL(next).pathname}${new URL(next).search}` : undefined;
  }
  return found;
}

const hasQuery = (event: AuditEventJson): boolean => (event.entity ?? []).some((e: Record<string, unknown>) => e.query !== undefined || (e.role as { code?: string } | undefined)?.code === '24');

/** Every entity reference of the events reads 200 with the token. */
async function expectReadable(token: string, events: AuditEventJson[]): Promise<void> {
  for (const ref of new Set(events.flatMap(entityRefs))) {
    const status = (await get(token, `/${ref}`)).status;
    expect({ ref, status }).toEqual({ ref, status: 200 });
  }
}

let clinic: string;
let narrow: string;

beforeAll(async () => {
  fx = await setupOAuth({ AUDIT: 'on', SEED_DEMO: 'false' });
  t = fx.t;
  for (const [id, family] of [['pat-1', 'One'], ['pat-2', 'Two']]) await fx.repo.update('Patient', id as string, { resourceType: 'Patient', id, name: [{ family }] } as Resource);
  for (const [id, patient] of [['obs-1', 'pat-1'], ['obs-2', 'pat-2']]) {
    await fx.repo.update('Observation', id as string, { resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patient}` } } as Resource);
  }
  // Traffic: reads and searches of both patients' data by a clinical client.
  clinic = await client('clinic', 'system/*.rs', [{ name: 'everything' }]);
  await get(clinic, '/Observation/obs-1').expect(200);
  await get(clinic, '/Observation/obs-2').expect(200);
  await get(clinic, '/Observation?subject=Patient/pat-2').expect(200);
  await get(clinic, '/Patient/pat-2/Observation').expect(200);
  // Names AuditEvent, and a policy permitting everything but obs-2 and pat-2.
  narrow = await client('narrow', 'system/AuditEvent.rs system/Observation.rs system/Patient.rs', [
    { name: 'everything' },
    { name: 'not pat-2', effect: 'deny', condition: { expression: "%resource.id in ('obs-2' | 'pat-2')" } },
  ]);
  await t.audit.trail?.flush();
});
afterAll(async () => {
  await t.close();
});

describe('wildcard scopes', () => {
  it('never cover AuditEvent for a caller without full access, whatever its policy permits', async () => {
    const [any] = (await searchAll(t.adminToken, '_count=1')).slice(0, 1);
    const read = await get(clinic, `/AuditEvent/${String(any?.id)}`).expect(403);
    expect(read.headers['www-authenticate']).toContain('insufficient_scope');
    await get(clinic, '/AuditEvent').expect(403);
    await get(clinic, '/AuditEvent/_history').expect(403);
    await get(clinic, `/AuditEvent/${String(any?.id)}/_history/1`).expect(403);
    const system = (await get(clinic, '/?_type=AuditEvent,Patient&_count=100').expect(200)).body as Bundle;
    expect((system.entry ?? []).filter((e) => e.resource.resourceType === 'AuditEvent')).toEqual([]);
    const history = (await get(clinic, '/_history?_count=500').expect(200)).body as Bundle;
    expect((history.entry ?? []).filter((e) => e.resource?.resourceType === 'AuditEvent')).toEqual([]);
    const rev = (await get(clinic, '/Observation?_id=obs-1&_revinclude=AuditEvent:entity').expect(200)).body as Bundle;
    expect((rev.entry ?? []).map((e) => e.resource.resourceType)).toEqual(['Observation']);
  });

  it('cover AuditEvent for owners, admins and full-access callers, who see AuditEvents as stored', async () => {
    const owner = (await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId })).access_token as string;
    const full = await client('full', 'system/*.rs', 'full-access');
    for (const token of [owner, full, t.adminToken]) {
      const events = await searchAll(token, 'entity=Observation/obs-2');
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => e.meta.security === undefined)).toBe(true);
      const searches = await searchAll(token, 'agent=ClientApplication/clinic&subtype=search-type');
      expect(searches.length).toBeGreaterThanOrEqual(1);
      expect(searches.every(hasQuery)).toBe(true);
      expect(searches.map((e) => String(e.outcomeDesc))).toContain('200 permitted: GET Observation');
    }
  });
});

describe('a reader without full access', () => {
  it('sees only the entities it could read directly, no query, and the event marked REDACTED', async () => {
    const events = await searchAll(narrow, 'agent=ClientApplication/clinic');
    expect(events.length).toBeGreaterThanOrEqual(3);
    await expectReadable(narrow, events);
    expect(events.filter(hasQuery)).toEqual([]);
    for (const event of events) {
      expect(event.meta.security).toEqual([{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED', display: 'redacted' }]);
      // A FHIR interaction's outcomeDesc keeps its head; a security event's, its name.
      if (event.type.code === 'rest') expect(String(event.outcomeDesc)).toMatch(/^(\d+ requests: )?\d{3} (permitted|refused)( by [a-z-]+)?$/);
      else expect(String(event.outcomeDesc)).not.toContain(':');
      expect(JSON.stringify(event)).not.toMatch(/pat-2|obs-2|AccessPolicy\/clinic/);
    }
    // The read of obs-1 still shows what it read.
    expect(events.flatMap(entityRefs)).toEqual(expect.arrayContaining(['Patient/pat-1', 'Observation/obs-1/_history/1']));
    // A direct read and a vread show the same redacted record.
    const one = events.find((e) => entityRefs(e).includes('Observation/obs-1/_history/1')) as AuditEventJson;
    expect((await get(narrow, `/AuditEvent/${String(one.id)}`).expect(200)).body).toEqual(one);
    expect((await get(narrow, `/AuditEvent/${String(one.id)}/_history/1`).expect(200)).body).toEqual(one);
    const history = (await get(narrow, `/AuditEvent/${String(one.id)}/_history`).expect(200)).body as Bundle;
    expect(history.entry?.map((e) => e.resource)).toEqual([one]);
  });

  it('finds nothing by what it may not read: entity, patient, counts, _has and _revinclude are no oracle', async () => {
    // The administrator finds these records…
    expect((await searchAll(t.adminToken, 'entity=Observation/obs-2')).length).toBeGreaterThanOrEqual(1);
    expect((await searchAll(t.adminToken, 'patient=Patient/pat-2')).length).toBeGreaterThanOrEqual(1);
    // …the restricted reader does not, by any route.
    expect(await searchAll(narrow, 'entity=Observation/obs-2')).toEqual([]);
    expect(await searchAll(narrow, 'entity=Observation/obs-2/_history/1')).toEqual([]);
    expect(await searchAll(narrow, 'patient=Patient/pat-2')).toEqual([]);
    expect(await searchAll(narrow, 'entity=Patient/pat-2')).toEqual([]);
    expect(await searchAll(narrow, 'entity-role=24')).toEqual([]);
    for (const query of ['entity=Observation/obs-2&_summary=count', 'patient=pat-2&_total=accurate']) {
      expect(((await get(narrow, `/AuditEvent?${query}`).expect(200)).body as Bundle).total).toBe(0);
    }
    const has = (await get(narrow, '/Observation?_has:AuditEvent:entity:patient=Patient/pat-2').expect(200)).body as Bundle;
    expect(has.entry ?? []).toEqual([]);
    // What it may read it finds, redacted.
    expect((await searchAll(narrow, 'entity=Observation/obs-1')).length).toBeGreaterThanOrEqual(1);
    const rev = (await get(narrow, '/Observation?_id=obs-1&_revinclude=AuditEvent:entity').expect(200)).body as Bundle;
    const included = (rev.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource);
    expect(included.length).toBeGreaterThanOrEqual(1);
    await expectReadable(narrow, included);
    expect(included.filter(hasQuery)).toEqual([]);
  });

  it('sees redacted AuditEvents in Bundle entries too', async () => {
    const [one] = await searchAll(narrow, 'entity=Observation/obs-1&_count=1');
    const batch = await request(t.app)
      .post(FHIR)
      .set('Authorization', `Bearer ${narrow}`)
      .send({ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `AuditEvent/${String(one?.id)}` } }, { request: { method: 'GET', url: 'AuditEvent?agent=ClientApplication/clinic' } }] })
      .expect(200);
    const [read, search] = batch.body.entry as Array<{ resource: AuditEventJson }>;
    expect(read?.resource).toEqual(one);
    const events = ((search?.resource as Bundle).entry ?? []).map((e) => e.resource);
    await expectReadable(narrow, [read?.resource as AuditEventJson, ...events]);
    expect(events.filter(hasQuery)).toEqual([]);
  });
});

describe('a patient', () => {
  it('reads the AuditEvents about their own compartment with patient/AuditEvent.rs, and nothing about others', async () => {
    await fx.repo.update('Membership', fx.memberMembershipId, { resourceType: 'Membership', id: fx.memberMembershipId, user: { reference: `User/${fx.memberId}` }, link: { reference: 'Patient/pat-1' }, active: true } as Resource);
    await fx.repo.update('AccessPolicy', 'patient-self', {
      resourceType: 'AccessPolicy', id: 'patient-self', name: 'Patients: their own record and who accessed it', engine: 'rule-engine',
      target: [{ link: { reference: `Membership/${fx.memberMembershipId}` } }],
      rule: [{ name: 'own chart and accounting', target: { expression: "%request.resourceType in ('Patient' | 'Observation' | 'AuditEvent')" } }],
    } as Resource);
    const scope = ['openid', 'fhirUser', 'patient/AuditEvent.rs', 'patient/Patient.rs', 'patient/Observation.rs'];
    const patient = (await codeTokens(fx, { scope, launch: { source: 'standalone', patient: 'pat-1' } })).access_token as string;
    const events = await searchAll(patient, 'subtype=read');
    expect(events.length).toBeGreaterThanOrEqual(1);
    for (const event of events) expect(entityRefs(event)).toContain('Patient/pat-1');
    expect(events.flatMap(entityRefs)).toContain('Observation/obs-1/_history/1');
    // Who read obs-1: the clinic.
    expect(events.flatMap((e) => (e.agent as Array<{ who?: { reference?: string } }>).map((a) => a.who?.reference))).toContain('ClientApplication/clinic');
    await expectReadable(patient, events);
    expect(events.filter(hasQuery)).toEqual([]);
    expect(await searchAll(patient, 'patient=Patient/pat-2')).toEqual([]);
    const others = (await searchAll(t.adminToken, 'patient=Patient/pat-2')).filter((e) => !entityRefs(e).includes('Patient/pat-1'));
    expect(others.length).toBeGreaterThanOrEqual(1);
    await get(patient, `/AuditEvent/${String(others[0]?.id)}`).expect(404);
    // A user/ wildcard scope does not give a patient the trail.
    const wildcard = (await codeTokens(fx, { scope: ['openid', 'user/*.rs'] })).access_token as string;
    await get(wildcard, '/AuditEvent').expect(403);
  });
});
