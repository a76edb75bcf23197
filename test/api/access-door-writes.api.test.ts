/**
 * Writes reveal nothing a read would refuse (docs/access-policies.md "404 or 403"): an update, patch or delete of a
 * resource the caller may not read is answered as for an unknown id before its If-Match, its patch (a `test`
 * operation included) or its permission is looked at, even when the policies would permit the write; a deletion
 * the caller never could read is unknown too; and a PUT that creates is judged as a create (scope `c`, create
 * rules).
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;
let admin: string;

type Json = Record<string, unknown>;

const as = (token: string, headers: Record<string, string> = {}) => {
  const send = (req: request.Test): request.Test => {
    for (const [name, value] of Object.entries(headers)) req.set(name, value);
    return req.set('Authorization', `Bearer ${token}`);
  };
  return {
    get: (path: string) => send(request(fx.t.app).get(`${FHIR}${path}`)),
    put: (path: string, body: unknown) => send(request(fx.t.app).put(`${FHIR}${path}`)).set('Content-Type', FHIR_JSON).send(body as object),
    patch: (path: string, body: unknown) => send(request(fx.t.app).patch(`${FHIR}${path}`)).set('Content-Type', 'application/json-patch+json').send(body as object),
    delete: (path: string) => send(request(fx.t.app).delete(`${FHIR}${path}`)),
  };
};

async function put(resource: Json): Promise<Json> {
  const res = await as(admin).put(`/${String(resource.resourceType)}/${String(resource.id)}`, resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Json;
}

async function userToken(id: string, rule: Json[]): Promise<string> {
  await put({ resourceType: 'User', id, email: `${id}@example.test`, role: 'member', password: `password of ${id}!` });
  await put({ resourceType: 'Membership', id, user: { reference: `User/${id}` }, active: true });
  await put({ resourceType: 'AccessPolicy', id, name: id, engine: 'rule-engine', target: [{ link: { reference: `Membership/${id}` } }], rule });
  return (await codeTokens(fx, { userId: id, membershipId: id })).access_token as string;
}

async function clientToken(id: string, scope: string): Promise<string> {
  const secret = `${id}-secret-0123456789`;
  await put({ resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], secret, scope });
  await put({ resourceType: 'AccessPolicy', id, name: id, engine: 'full-access', target: [{ link: { reference: `ClientApplication/${id}` } }] });
  const res = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, [id, secret]);
  expect(res.body.scope).toBe(scope);
  return res.body.access_token as string;
}

const observation = (id: string, patient: string, extra: Json = {}): Json => ({
  resourceType: 'Observation', id, status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patient}` }, ...extra,
});

const READS = "%request.interaction in ('read' | 'vread' | 'search-type' | 'history-instance')";
/** The same answer apart from the id named in it. */
const sameAnswer = (a: request.Response, b: request.Response, idA: string, idB: string): void => {
  expect(a.status).toBe(b.status);
  expect(JSON.stringify(a.body).replaceAll(idA, idB)).toBe(JSON.stringify(b.body));
};

async function version(path: string): Promise<string> {
  const res = await as(admin).get(path);
  return res.status === 200 ? String(res.body.meta.versionId) : `status ${res.status}`;
}

let writer: string;
beforeAll(async () => {
  fx = await setupOAuth();
  admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  await put(observation('seen', 'ada'));
  await put(observation('hidden', 'bob', { valueString: 'secret value' }));
  await put(observation('gone-hidden', 'bob'));
  await as(admin).delete('/Observation/gone-hidden').expect(204);
  await put(observation('gone-seen', 'ada'));
  await as(admin).delete('/Observation/gone-seen').expect(204);
  // Reads only ada's Observations; may write (create, update, patch, delete) any Observation.
  writer = await userToken('writer', [
    { name: 'read ada', target: { expression: READS }, condition: { expression: "%resource.subject.reference = 'Patient/ada'" } },
    { name: 'write any', target: { expression: "%request.resourceType = 'Observation' and %request.interaction in ('create' | 'update' | 'patch' | 'delete')" } },
  ]);
});
afterAll(async () => {
  await fx.t.close();
});

describe('a write the policies permit, of a resource the caller may not read', () => {
  it('a patch is a 404 as for an unknown id, whether its test operation holds or not, and changes nothing', async () => {
    const holds = await as(writer).patch('/Observation/hidden', [{ op: 'test', path: '/valueString', value: 'secret value' }, { op: 'add', path: '/status', value: 'amended' }]);
    const fails = await as(writer).patch('/Observation/hidden', [{ op: 'test', path: '/valueString', value: 'guess' }, { op: 'add', path: '/status', value: 'amended' }]);
    const unknown = await as(writer).patch('/Observation/never', [{ op: 'test', path: '/valueString', value: 'guess' }, { op: 'add', path: '/status', value: 'amended' }]);
    expect(holds.status).toBe(404);
    sameAnswer(holds, unknown, 'hidden', 'never');
    sameAnswer(fails, unknown, 'hidden', 'never');
    expect(JSON.stringify(holds.body)).not.toContain('secret');
    expect(await version('/Observation/hidden')).toBe('1');
  });

  it('a delete is a 404 as for an unknown id and deletes nothing', async () => {
    sameAnswer(await as(writer).delete('/Observation/hidden'), await as(writer).delete('/Observation/never'), 'hidden', 'never');
    expect(await version('/Observation/hidden')).toBe('1');
  });

  it('an update gets what a create at a free id would get, except that the id is taken: 409, nothing stored', async () => {
    const res = await as(writer).put('/Observation/hidden', observation('hidden', 'bob', { valueString: 'overwritten' }));
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).not.toContain('secret');
    expect(await version('/Observation/hidden')).toBe('1');
    // The same write to a readable resource is an ordinary update.
    expect((await as(writer).put('/Observation/seen', observation('seen', 'ada', { valueString: 'changed' }))).status).toBe(200);
  });

  it('If-Match says nothing about a hidden resource: the answers equal those for an unknown id, right or wrong version', async () => {
    for (const tag of ['W/"1"', 'W/"7"']) {
      const headers = { 'If-Match': tag };
      sameAnswer(await as(writer, headers).patch('/Observation/hidden', [{ op: 'add', path: '/status', value: 'amended' }]), await as(writer, headers).patch('/Observation/never', [{ op: 'add', path: '/status', value: 'amended' }]), 'hidden', 'never');
      sameAnswer(await as(writer, headers).delete('/Observation/hidden'), await as(writer, headers).delete('/Observation/never'), 'hidden', 'never');
      const putHidden = await as(writer, headers).put('/Observation/hidden', observation('hidden', 'bob'));
      const putUnknown = await as(writer, headers).put('/Observation/never', observation('never', 'bob'));
      sameAnswer(putHidden, putUnknown, 'hidden', 'never');
    }
    expect(await version('/Observation/hidden')).toBe('1');
    expect(await version('/Observation/never')).toBe('status 404');
  });
});

describe('a deleted resource', () => {
  it('whose last version the caller could not read is unknown to a patch and a delete', async () => {
    sameAnswer(await as(writer).patch('/Observation/gone-hidden', [{ op: 'add', path: '/status', value: 'amended' }]), await as(writer).patch('/Observation/never', [{ op: 'add', path: '/status', value: 'amended' }]), 'gone-hidden', 'never');
    sameAnswer(await as(writer).delete('/Observation/gone-hidden'), await as(writer).delete('/Observation/never'), 'gone-hidden', 'never');
  });

  it('whose last version the caller could read is gone (410) to a patch, and already deleted (204) to a delete', async () => {
    expect((await as(writer).patch('/Observation/gone-seen', [{ op: 'add', path: '/status', value: 'amended' }])).status).toBe(410);
    expect((await as(writer).delete('/Observation/gone-seen')).status).toBe(204);
  });
});

describe('an update that creates is judged as a create', () => {
  it('needs the c scope', async () => {
    const noCreate = await clientToken('no-create', 'system/Observation.rud');
    const res = await as(noCreate).put('/Observation/made-by-put', observation('made-by-put', 'ada'));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope"/);
    expect(await version('/Observation/made-by-put')).toBe('status 404');
    // Updating what exists stays within its scopes.
    expect((await as(noCreate).put('/Observation/seen', observation('seen', 'ada'))).status).toBe(200);
  });

  it('needs a rule that permits the create', async () => {
    const updater = await userToken('updater', [
      { name: 'read', target: { expression: READS } },
      { name: 'update only', target: { expression: "%request.interaction in ('update' | 'patch')" } },
    ]);
    const res = await as(updater).put('/Observation/made-by-update', observation('made-by-update', 'ada'));
    expect(res.status).toBe(403);
    expect(await version('/Observation/made-by-update')).toBe('status 404');
    expect((await as(updater).put('/Observation/seen', observation('seen', 'ada'))).status).toBe(200);
    // With a create rule the same PUT creates.
    expect((await as(writer).put('/Observation/made-by-writer', observation('made-by-writer', 'ada'))).status).toBe(201);
  });
});

describe('a token that may write but not read the type (SMART v1 write)', () => {
  it('updates and deletes what its policies let it write, and never patches (a patch reads what it changes)', async () => {
    const writeOnly = await clientToken('write-only', 'system/Observation.write');
    await put(observation('w1', 'bob', { valueString: 'kept' }));
    await put(observation('w2', 'bob'));
    expect((await as(writeOnly).put('/Observation/w1', observation('w1', 'bob', { valueString: 'replaced' }))).status).toBe(200);
    sameAnswer(await as(writeOnly).patch('/Observation/w1', [{ op: 'test', path: '/valueString', value: 'replaced' }]), await as(writeOnly).patch('/Observation/never', [{ op: 'test', path: '/valueString', value: 'replaced' }]), 'w1', 'never');
    expect((await as(writeOnly).delete('/Observation/w2')).status).toBe(204);
    expect(await version('/Observation/w2')).toBe('status 410');
  });
});
