/**
 * The IdentityProvider resource over the FHIR API: the client secret is sealed at rest with the key-encryption
 * key and never returned; the cross-field rules answer 400 with the element named; a linked User identity is
 * unique in the project; requests to a provider never reach loopback, private or link-local addresses.
 */
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { openResourceSecret, secretAad } from '../../src/fhir/repository/resource-secrets';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { authorizeQuery, Browser, OAUTH, pkce, putClient, validParams } from '../oauth/authorize-helpers';

const FHIR_JSON = 'application/fhir+json';
const SECRET = 'upstream-client-secret-3f9a7c1e';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const provider = {
  resourceType: 'IdentityProvider',
  name: 'Contoso Entra ID',
  status: 'active',
  issuer: 'https://login.contoso.example/tenant/v2.0',
  clientId: 'fhir-server',
  clientSecret: SECRET,
  emailDomains: ['contoso.example'],
};

async function journalText(): Promise<string> {
  const dir = t.config.dataDir;
  const files = await readdir(dir, { recursive: true });
  const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f)).then((b) => b.toString('utf8')).catch(() => '')));
  return texts.join('\n');
}

describe('IdentityProvider.clientSecret', () => {
  it('is sealed at rest, opens with the key-encryption key, and never comes back', async () => {
    const created = await t.api.post(`${t.base}/IdentityProvider`).set('Content-Type', FHIR_JSON).send(provider);
    expect(created.status).toBe(201);
    expect(created.body.clientSecret).toBeUndefined();
    const id = created.body.id as string;
    for (const url of [`${t.base}/IdentityProvider/${id}`, `${t.base}/IdentityProvider/${id}/_history/1`, `${t.base}/IdentityProvider?name=Contoso`, `${t.base}/IdentityProvider/_history`]) {
      const res = await t.api.get(url);
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).not.toContain('clientSecret');
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
    }
    const stored = await t.storage.resources.readCurrent(t.boot.project.key, 'IdentityProvider', id);
    expect(stored?.resource?.clientSecret).toMatchObject({ alg: 'A256GCM', kekId: t.keyEncryption.kekId });
    expect(openResourceSecret(t.keyEncryption, stored?.resource?.clientSecret, secretAad(t.boot.project.key, 'IdentityProvider', id, 'clientSecret'))).toBe(SECRET);
    // Copied into another resource, the sealed value does not open.
    expect(() => openResourceSecret(t.keyEncryption, stored?.resource?.clientSecret, secretAad(t.boot.project.key, 'IdentityProvider', 'other', 'clientSecret'))).toThrow();
    expect(await journalText()).not.toContain(SECRET);

    // A PUT without the secret keeps it; one that changes the client id must give a new one.
    const { clientSecret: _omitted, ...withoutSecret } = provider;
    const kept = await t.api.put(`${t.base}/IdentityProvider/${id}`).set('Content-Type', FHIR_JSON).send({ ...withoutSecret, id, name: 'Contoso' });
    expect(kept.status).toBe(200);
    const after = await t.storage.resources.readCurrent(t.boot.project.key, 'IdentityProvider', id);
    expect(after?.resource?.clientSecret).toEqual(stored?.resource?.clientSecret);
    const moved = await t.api.put(`${t.base}/IdentityProvider/${id}`).set('Content-Type', FHIR_JSON).send({ ...withoutSecret, id, clientId: 'another-client' });
    expect(moved.status).toBe(400);
    expect(JSON.stringify(moved.body.issue)).toContain('IdentityProvider.clientSecret');
  });

  it('is refused with private_key_jwt', async () => {
    const res = await t.api.post(`${t.base}/IdentityProvider`).set('Content-Type', FHIR_JSON).send({ ...provider, tokenEndpointAuthMethod: 'private_key_jwt' });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['IdentityProvider.clientSecret']);
  });
});

describe('IdentityProvider rules', () => {
  it.each([
    [{ issuer: 'not a url' }, 'IdentityProvider.issuer'],
    [{ issuer: 'ftp://idp.example' }, 'IdentityProvider.issuer'],
    [{ issuer: 'https://user:pw@idp.example' }, 'IdentityProvider.issuer'],
    [{ authorizationEndpoint: 'https://idp.example/authorize' }, 'IdentityProvider.tokenEndpoint'],
    [{ scope: 'email profile' }, 'IdentityProvider.scope'],
    [{ emailDomains: ['Contoso.example'] }, 'IdentityProvider.emailDomains[0]'],
    [{ emailDomains: [], requiredForEmailDomains: true }, 'IdentityProvider.requiredForEmailDomains'],
    [{ button: { logoUri: 'http://idp.example/logo.png' } }, 'IdentityProvider.button.logoUri'],
    [{ defaultMembership: { accessPolicy: { reference: 'Patient/1' } } }, 'IdentityProvider.defaultMembership.accessPolicy'],
  ])('refuses %j', async (change, expression) => {
    const res = await t.api.post(`${t.base}/IdentityProvider`).set('Content-Type', FHIR_JSON).send({ ...provider, ...change });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.map((i: { expression?: string[] }) => i.expression?.[0])).toContain(expression);
  });

  it('refuses an unknown status and a provisioned role other than member (schema)', async () => {
    for (const change of [{ status: 'maybe' }, { defaultMembership: { role: 'admin' } }, { userMatching: 'name' }]) {
      const res = await t.api.post(`${t.base}/IdentityProvider`).set('Content-Type', FHIR_JSON).send({ ...provider, ...change });
      expect(res.status).toBe(400);
    }
  });
});

describe('User.identity', () => {
  it('is unique per provider and subject', async () => {
    const identity = [{ provider: { reference: 'IdentityProvider/p1' }, subject: 'abc' }];
    const first = await t.api.post(`${t.base}/User`).set('Content-Type', FHIR_JSON).send({ resourceType: 'User', email: 'one@contoso.example', role: 'member', identity });
    expect(first.status).toBe(201);
    const second = await t.api.post(`${t.base}/User`).set('Content-Type', FHIR_JSON).send({ resourceType: 'User', email: 'two@contoso.example', role: 'member', identity });
    expect(second.status).toBe(409);
  });
});

describe('requests to the provider', () => {
  it('never reach loopback, private or link-local addresses (no ALLOW_HTTP_JWKS_URI): a 502 page, no connection', async () => {
    await putClient(t, 'app');
    let connections = 0;
    const trap = http.createServer((_req, res) => {
      connections++;
      res.end('{}');
    });
    trap.listen(0, '127.0.0.1');
    await new Promise((resolve) => trap.once('listening', resolve));
    const port = (trap.address() as AddressInfo).port;
    for (const [id, issuer] of [
      ['loopback', `https://127.0.0.1:${port}`],
      ['plain-http', `http://127.0.0.1:${port}`],
      ['metadata', 'https://169.254.169.254/latest'],
      ['private', 'https://10.0.0.1'],
    ]) {
      const put = await t.api.put(`${t.base}/IdentityProvider/${id}`).set('Content-Type', FHIR_JSON).send({ ...provider, id, issuer, emailDomains: [] });
      expect(put.status).toBeLessThan(300);
      const browser = new Browser(t.app);
      const res = await browser.get(authorizeQuery(validParams(pkce().challenge)));
      const interaction = new URL(String(res.headers.location), 'https://x').searchParams.get('interaction') ?? '';
      const go = await browser.get(`${OAUTH}/federated/start?interaction=${interaction}&provider=${id}`);
      expect(go.status).toBe(502);
      expect(go.headers.location).toBeUndefined();
      expect(go.text).toContain('The identity provider cannot be reached');
    }
    expect(connections).toBe(0);
    const failures = t.logLines.filter((l) => l.event === 'login_failed' && l.reason === 'provider_unreachable');
    expect(failures.length).toBe(4);
    await new Promise((resolve) => trap.close(resolve));
  });
});
