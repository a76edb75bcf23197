/**
 * A PUT to the id of a deleted resource the caller could never read must not say that the id has a history, nor how
 * long it is: it answers as a PUT to a live id the caller may not read (the answer a create would get, here 409). And once the
 * caller may read a newer version, a vread of an older deletion is judged by the version that deletion deleted (as
 * history judges it), not by the newest version: a hidden deletion is a 404 like the hidden versions around it.
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;
let admin: string;
let writer: string;
type Json = Record<string, unknown>;

const send = (token: string, method: 'get' | 'put', path: string, body?: unknown) => {
  const req = request(fx.t.app)[method](`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
  return body === undefined ? req : req.set('Content-Type', FHIR_JSON).send(body as object);
};

async function put(resource: Json): Promise<void> {
  const res = await send(admin, 'put', `/${String(resource.resourceType)}/${String(resource.id)}`, resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
}

const observation = (id: string, patient: string, extra: Json = {}): Json => ({
  resourceType: 'Observation', id, status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patient}` }, ...extra,
});
const READS = "%request.interaction in ('read' | 'vread' | 'search-type' | 'history-instance')";

beforeAll(async () => {
  fx = await setupOAuth();
  admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  await put(observation('live-bob', 'bob'));
  // bob's Observation: four versions, then deleted (version 5).
  for (let i = 0; i < 4; i++) await put(observation('gone-bob', 'bob', { valueString: `v${i}` }));
  expect((await request(fx.t.app).delete(`${FHIR}/Observation/gone-bob`).set('Authorization', `Bearer ${admin}`)).status).toBe(204);
  await put({ resourceType: 'User', id: 'writer', email: 'writer@example.test', role: 'member', password: 'password of writer!' });
  await put({ resourceType: 'Membership', id: 'writer', user: { reference: 'User/writer' }, active: true });
  await put({
    resourceType: 'AccessPolicy', id: 'writer', name: 'writer', engine: 'rule-engine', target: [{ link: { reference: 'Membership/writer' } }],
    rule: [
      { name: 'read ada', target: { expression: READS }, condition: { expression: "%resource.subject.reference = 'Patient/ada'" } },
      { name: 'write any', target: { expression: "%request.resourceType = 'Observation' and %request.interaction in ('create' | 'update' | 'patch' | 'delete')" } },
    ],
  });
  writer = (await codeTokens(fx, { userId: 'writer', membershipId: 'writer' })).access_token as string;
});
afterAll(async () => {
  await fx.t.close();
});

it('a read of the deleted hidden id is a 404 like an unknown id (the premise)', async () => {
  expect((await send(writer, 'get', '/Observation/gone-bob')).status).toBe(404);
  expect((await send(writer, 'get', '/Observation/gone-bob/_history/4')).status).toBe(404);
});

it('a PUT to it answers as a PUT to a live id the caller may not read: 409, nothing of its history, nothing stored', async () => {
  const hidden = await send(writer, 'put', '/Observation/gone-bob', observation('gone-bob', 'ada'));
  const live = await send(writer, 'put', '/Observation/live-bob', observation('live-bob', 'ada'));
  expect(hidden.status).toBe(409);
  expect(JSON.stringify(hidden.body).replaceAll('gone-bob', 'live-bob')).toBe(JSON.stringify(live.body));
  for (const header of ['etag', 'location', 'last-modified']) expect(hidden.headers[header]).toBeUndefined();
  expect((await send(admin, 'get', '/Observation/gone-bob/_history/6')).status).toBe(404);
});

it('a vread of a deletion whose deleted version is hidden is a 404, even once a later version is readable', async () => {
  const bob = observation('moved', 'bob');
  await put(bob);
  expect((await request(fx.t.app).delete(`${FHIR}/Observation/moved`).set('Authorization', `Bearer ${admin}`)).status).toBe(204);
  await put(observation('moved', 'ada'));
  expect((await send(writer, 'get', '/Observation/moved')).status).toBe(200);
  expect((await send(writer, 'get', '/Observation/moved/_history/1')).status).toBe(404);
  // History (judged per version) shows only version 3: the deletion of bob's version is hidden there.
  const history = await send(writer, 'get', '/Observation/moved/_history');
  expect((history.body.entry as Json[]).map((e) => (e.response as Json | undefined)?.etag ?? (e.resource as Json).meta)).toHaveLength(1);
  // Today: 410 Gone, which tells a deletion from a hidden version.
  expect((await send(writer, 'get', '/Observation/moved/_history/2')).status).toBe(404);
});
