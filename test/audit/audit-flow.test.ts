/**
 * A full flow with auditing on — a failed then a successful sign-in, consent, the code exchanged, reads and
 * searches, refused requests, a refresh, revocation, refresh-token reuse, failed client authentication — then every
 * AuditEvent and every log line is scanned for each credential the flow used: none may appear. The trail must
 * also hold an event of each kind the flow caused, shaped as docs/audit.md says.
 */
import request from 'supertest';
import { assertValidResource } from '../../src/fhir/repository/validate';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { putClient } from '../oauth/authorize-helpers';
import { ADA_POLICY, agentRefs, type AuditEventJson, entityRefs, oauthForm, RS_SECRET, REDIRECT, signIn, storedAuditEvents, subtypes, writeFixtures } from './audit-fixtures';

let t: TestApp;
let events: AuditEventJson[];
const secrets = new Map<string, string>();

const keep = (name: string, value: unknown): string => {
  if (typeof value !== 'string' || value.length < 8) throw new Error(`${name} missing from the flow`);
  secrets.set(name, value);
  return value;
};

beforeAll(async () => {
  t = await buildTestApp({ AUDIT: 'on', SEED_DEMO: 'false' });
  const ada = await writeFixtures(t);
  const base = t.base;
  keep('admin access token', t.adminToken);
  keep('admin password', 'correct horse battery staple');
  keep('admin client secret', t.config.adminClientSecret);
  keep('ada password', ada.password);
  keep('resource server secret', RS_SECRET);

  // Sign-in (a wrong password first), consent, code.
  const wrong = keep('wrong password', 'not the password of ada at all');
  const login = await signIn(t, ada, { wrongPassword: wrong });
  keep('authorization code', login.code);
  keep('code verifier', login.verifier);
  login.cookies.forEach((value, i) => keep(`cookie ${i}`, value));
  login.formSecrets.forEach((value, i) => keep(`form secret ${i}`, value));

  const exchanged = await oauthForm(t, 'token', { grant_type: 'authorization_code', code: login.code, redirect_uri: REDIRECT, client_id: 'app', code_verifier: login.verifier }).expect(200);
  const access = keep('access token', exchanged.body.access_token);
  const refresh1 = keep('refresh token', exchanged.body.refresh_token);
  keep('id token', exchanged.body.id_token);
  // The same code again: refused, and what it issued is revoked.
  await oauthForm(t, 'token', { grant_type: 'authorization_code', code: login.code, redirect_uri: REDIRECT, client_id: 'app', code_verifier: login.verifier }).expect(400);

  // Reads and searches, permitted and refused.
  const bearer = { Authorization: `Bearer ${access}` };
  const requestWith = (url: string) => t.api.get(url).set(bearer);
  // The first exchange's tokens were revoked by the code reuse: a new sign-in (consent remembered) gives new ones.
  const again = await signIn(t, ada);
  keep('second authorization code', again.code);
  keep('second code verifier', again.verifier);
  const second = await oauthForm(t, 'token', { grant_type: 'authorization_code', code: again.code, redirect_uri: REDIRECT, client_id: 'app', code_verifier: again.verifier }).expect(200);
  const access2 = keep('second access token', second.body.access_token);
  const refresh2 = keep('second refresh token', second.body.refresh_token);
  keep('second id token', second.body.id_token);
  await requestWith(`${base}/Patient/pat-1`).expect(401);
  const bearer2 = { Authorization: `Bearer ${access2}` };
  await t.api.get(`${base}/Patient/pat-1`).set(bearer2).expect(200);
  await t.api.get(`${base}/Observation/obs-1`).set(bearer2).expect(200);
  await t.api.get(`${base}/Observation/obs-2`).set(bearer2).expect(404);
  await t.api.get(`${base}/Observation?subject=Patient/pat-1&_format=json`).set(bearer2).expect(200);
  await t.api.post(`${base}/Observation`).set(bearer2).send({ resourceType: 'Observation', status: 'final', code: { text: 'x' } }).expect(403);
  await t.api.get(`${base}/AuditEvent`).set(bearer2).expect(403);
  const tampered = keep('tampered token', `${access2.slice(0, -4)}AAAA`);
  await t.api.get(`${base}/Patient/pat-1`).set({ Authorization: `Bearer ${tampered}` }).expect(401);
  await request(t.app).get(`${base}/Patient/pat-1`).expect(401);

  // Refresh, then reuse of the used refresh token (the family is revoked).
  const refreshed = await oauthForm(t, 'token', { grant_type: 'refresh_token', refresh_token: refresh2, client_id: 'app' }).expect(200);
  keep('refreshed access token', refreshed.body.access_token);
  const refresh3 = keep('refreshed refresh token', refreshed.body.refresh_token);
  await oauthForm(t, 'token', { grant_type: 'refresh_token', refresh_token: refresh2, client_id: 'app' }).expect(400);

  // Revocation, introspection and client authentication failures.
  await oauthForm(t, 'revoke', { token: refresh3, client_id: 'app' }).expect(200);
  await oauthForm(t, 'revoke', { token: refresh1 }, ['rs', keep('wrong client secret', 'wrong-client-secret-value-42')]).expect(401);
  await oauthForm(t, 'introspect', { token: access2 }, ['rs', 'wrong-client-secret-value-42']).expect(401);
  const assertion = keep('client assertion', 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJycyIsInN1YiI6InJzIn0.c2lnbmF0dXJlLW5vdC12YWxpZA');
  await oauthForm(t, 'token', { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }).expect(401);
  const service = await oauthForm(t, 'token', { grant_type: 'client_credentials' }, ['rs', RS_SECRET]).expect(200);
  keep('client credentials token', service.body.access_token);

  // Another app asks; Ada denies it.
  await putClient(t, 'other-app');
  const denied = await signIn(t, ada, { clientId: 'other-app', decision: 'deny' });
  expect(denied.redirect.error).toBe('access_denied');
  denied.cookies.forEach((value, i) => keep(`denial cookie ${i}`, value));

  // An owner changes an AccessPolicy.
  await t.api.put(`${base}/AccessPolicy/ada-policy`).send({ ...ADA_POLICY, description: 'reviewed' }).expect(200);

  events = await storedAuditEvents(t);
});
afterAll(async () => {
  await t.close();
});

const find = (predicate: (e: AuditEventJson) => boolean): AuditEventJson[] => events.filter(predicate);
const security = (code: string): AuditEventJson[] => find((e) => subtypes(e).includes(code) && e.type.code !== 'rest');
const rest = (interaction: string, path: string): AuditEventJson[] =>
  find((e) => e.type.code === 'rest' && subtypes(e)[0] === interaction && String(e.outcomeDesc).includes(` ${path}`));

describe('audit trail of a full flow', () => {
  it('holds no credential of the flow, in any AuditEvent or log line', () => {
    const trail = JSON.stringify(events);
    const log = JSON.stringify(t.logLines);
    expect(events.length).toBeGreaterThan(20);
    expect(t.logLines.length).toBeGreaterThan(10);
    const leaks = [...secrets].filter(([, value]) => trail.includes(value) || log.includes(value)).map(([name]) => name);
    expect(leaks).toEqual([]);
    // Nor the base64 of one (an entity.query is base64).
    const decoded = events.flatMap((e) => (e.entity ?? []).flatMap((en: { query?: string }) => (en.query ? [Buffer.from(en.query, 'base64').toString('utf8')] : []))).join('\n');
    expect([...secrets].filter(([, value]) => decoded.includes(value)).map(([name]) => name)).toEqual([]);
  });

  it('records only valid R4 AuditEvents', () => {
    for (const event of events) expect(() => assertValidResource({ ...event })).not.toThrow();
  });

  it('records the sign-in failure and success, and the consent, with the user, the app and the address', () => {
    const failed = security('login-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ outcome: '4', type: { code: '110114' } });
    const [login] = security('login');
    expect(agentRefs(login as AuditEventJson)).toEqual(['User/ada', 'ClientApplication/app']);
    expect((login as AuditEventJson).agent[0].network).toEqual({ address: expect.stringMatching(/127\.0\.0\.1/), type: '2' });
    expect(security('consent-granted')).toHaveLength(1);
    const [denial] = security('consent-denied');
    expect(denial).toMatchObject({ outcome: '4' });
    expect(agentRefs(denial as AuditEventJson)).toEqual(['User/ada', 'ClientApplication/other-app']);
  });

  it('records token issuance, the code reuse, the refresh, the refresh-token reuse (outcome 12) and the revocation', () => {
    expect(security('token-issued').length).toBeGreaterThanOrEqual(3);
    const failures = security('token-failed');
    expect(failures.map((e) => e.outcomeDesc)).toEqual(expect.arrayContaining([expect.stringContaining('invalid_grant'), expect.stringContaining('invalid_client')]));
    expect(security('token-refreshed')).toHaveLength(1);
    const [reuse] = security('refresh-token-reuse');
    expect(reuse).toMatchObject({ outcome: '12', type: { code: '110113' } });
    expect(security('token-revoked')).toHaveLength(1);
    expect(security('revocation-failed')).toHaveLength(1);
    expect(security('introspection-failed')).toHaveLength(1);
  });

  it('records each FHIR read with the user, the app, the patient and the deciding rule', () => {
    const [read] = rest('read', 'Observation/obs-1').filter((e) => e.outcome === '0');
    expect(agentRefs(read as AuditEventJson)).toEqual(['User/ada', 'ClientApplication/app']);
    expect((read as AuditEventJson).agent[0].altId).toBe('https://fhir.example.test/w/default/default/api/v1/fhir/r4/Patient/pat-1');
    expect(entityRefs(read as AuditEventJson)).toEqual(['Patient/pat-1', 'Observation/obs-1/_history/1', 'AccessPolicy/ada-policy']);
    expect((read as AuditEventJson).entity.at(-1).description).toBe('AccessPolicy/ada-policy AccessPolicy.rule[0]');
  });

  it('records a refused read (a 404 to the caller) as refused by the policy rule that denied it', () => {
    const [refused] = rest('read', 'Observation/obs-2');
    expect(refused).toMatchObject({ outcome: '4', outcomeDesc: expect.stringContaining('404 refused by policy') });
    expect(entityRefs(refused as AuditEventJson)).toEqual(expect.arrayContaining(['AccessPolicy/ada-policy']));
    expect((refused as AuditEventJson).entity.at(-1).description).toBe('AccessPolicy/ada-policy AccessPolicy.rule[1]');
  });

  it('records a search with its query (without _format) and the patients of what it returned', () => {
    const [search] = rest('search-type', 'Observation');
    const query = (search as AuditEventJson).entity.find((e: { role?: { code: string } }) => e.role?.code === '24');
    expect(Buffer.from(query.query, 'base64').toString('utf8')).toBe('subject=Patient%2Fpat-1');
    expect(entityRefs(search as AuditEventJson)).toEqual(expect.arrayContaining(['Patient/pat-1', 'Observation/obs-1/_history/1', 'Observation/obs-3/_history/1']));
  });

  it('records scope refusals and 401s with their reason, never the token', () => {
    expect(rest('create', 'Observation')[0]).toMatchObject({ outcome: '4', outcomeDesc: expect.stringContaining('403 refused by scope') });
    expect(rest('search-type', 'AuditEvent')[0]).toMatchObject({ outcomeDesc: expect.stringContaining('403 refused by scope') });
    const unauthenticated = find((e) => String(e.outcomeDesc).includes('401 refused by authentication'));
    expect(unauthenticated.map((e) => e.outcomeDesc)).toEqual(
      expect.arrayContaining([expect.stringContaining('revoked'), expect.stringContaining('invalid'), expect.stringContaining('GET Patient/pat-1')]),
    );
    for (const e of unauthenticated) expect(e.agent[0]).toMatchObject({ name: 'unauthenticated', requestor: true });
  });

  it('marks the write of an AccessPolicy as a security-roles change', () => {
    const [write] = rest('update', 'AccessPolicy/ada-policy');
    expect(subtypes(write as AuditEventJson)).toEqual(['update', '110136']);
    expect(write).toMatchObject({ action: 'U', outcome: '0' });
  });
});
