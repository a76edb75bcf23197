/**
 * Per-client-IP limits of the token, introspection and revocation endpoints (OAUTH_RATE_LIMIT per
 * OAUTH_RATE_LIMIT_WINDOW_SECONDS; off by default), and TRUST_PROXY: behind a trusted proxy the limiters —
 * these and the failed sign-in limiter — key on the client named by X-Forwarded-For, otherwise on the peer.
 */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { authorizeQuery, pkce, putClient, putUser, scrapeForm, validParams } from './authorize-helpers';

const OAUTH = '/w/default/default/api/v1/oauth';
const ADMIN: [string, string] = ['admin-cli', 'admin-client-secret-for-tests'];

const token = (t: TestApp, from?: string) => {
  const req = request(t.app).post(`${OAUTH}/token`).auth(...ADMIN).type('form');
  return (from ? req.set('X-Forwarded-For', from) : req).send({ grant_type: 'client_credentials' });
};

describe('with OAUTH_RATE_LIMIT set', () => {
  let t: TestApp;
  beforeAll(async () => {
    // buildTestApp obtains the admin token once from 127.0.0.1 (no X-Forwarded-For): a budget the tests avoid.
    t = await buildTestApp({ OAUTH_RATE_LIMIT: '3', OAUTH_RATE_LIMIT_WINDOW_SECONDS: '120', TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 temporarily_unavailable with Retry-After once an address used its budget', async () => {
    for (let i = 0; i < 3; i++) expect((await token(t, '203.0.113.1')).status).toBe(200);
    const res = await token(t, '203.0.113.1');
    expect(res.status).toBe(429);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'Too many token requests from this address; retry later' });
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(100);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(120);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['ratelimit-policy']).toBeDefined();
  });

  it('counts the client named by X-Forwarded-For when the proxy is trusted', async () => {
    for (let i = 0; i < 3; i++) expect((await token(t, '203.0.113.2')).status).toBe(200);
    expect((await token(t, '203.0.113.2')).status).toBe(429);
    expect((await token(t, '203.0.113.3')).status).toBe(200);
  });

  it('limits introspection and revocation separately from the token endpoint', async () => {
    const from = '203.0.113.4';
    for (let i = 0; i < 3; i++) expect((await token(t, from)).status).toBe(200);
    for (const endpoint of ['introspect', 'revoke']) {
      const call = () => request(t.app).post(`${OAUTH}/${endpoint}`).auth(...ADMIN).set('X-Forwarded-For', from).type('form').send({ token: 'x' });
      for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
      const limited = await call();
      const noun = endpoint === 'introspect' ? 'introspection' : 'revocation';
      expect({ status: limited.status, body: limited.body as unknown }).toEqual({
        status: 429,
        body: { error: 'temporarily_unavailable', error_description: `Too many ${noun} requests from this address; retry later` },
      });
    }
  });

  it('does not limit the JWKS, discovery or FHIR endpoints', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await request(t.app).get(`${OAUTH}/jwks`).set('X-Forwarded-For', '203.0.113.1')).status).toBe(200);
      expect((await request(t.app).get('/w/default/default/.well-known/openid-configuration').set('X-Forwarded-For', '203.0.113.1')).status).toBe(200);
    }
  });
});

describe('without TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ OAUTH_RATE_LIMIT: '3' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('ignores X-Forwarded-For, so a client cannot escape its budget by forging it', async () => {
    // One token request (127.0.0.1) was spent building the app.
    for (let i = 0; i < 2; i++) expect((await token(t, `198.51.100.${i}`)).status).toBe(200);
    expect((await token(t, '198.51.100.99')).status).toBe(429);
  });
});

describe('by default', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('does not limit the token endpoint (OAUTH_RATE_LIMIT=0)', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await token(t)).status);
    expect([...statuses]).toEqual([200]);
  });
});

describe('failed sign-ins behind a trusted proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ LOGIN_MAX_FAILURES: '2', TRUST_PROXY: 'loopback' });
    await putClient(t, 'app');
  });
  afterAll(async () => {
    await t.close();
  });

  /** Opens a login page as client `from` (via the proxy) and returns a function that submits credentials. */
  async function loginForm(from: string): Promise<(email: string, password: string) => Promise<request.Response>> {
    const start = await request(t.app).get(authorizeQuery(validParams(pkce().challenge))).set('X-Forwarded-For', from);
    const cookie = String((start.headers['set-cookie'] as unknown as string[] | undefined)?.[0] ?? '').split(';')[0] ?? '';
    const page = await request(t.app).get(String(start.headers.location)).set('Cookie', cookie).set('X-Forwarded-For', from);
    const { action, fields } = scrapeForm(page.text);
    return (email, password) => request(t.app).post(action).set('Cookie', cookie).set('X-Forwarded-For', from).type('form').send({ ...fields, email, password });
  }

  it('counts failures per forwarded client address, not per proxy', async () => {
    const kim = await putUser(t, 'kim');
    const fromA = await loginForm('192.0.2.10');
    for (const email of ['a@example.org', 'b@example.org']) expect((await fromA(email, 'nope')).status).toBe(401);
    expect((await fromA(kim.email, kim.password)).status).toBe(429);
    const fromB = await loginForm('192.0.2.11');
    expect((await fromB(kim.email, kim.password)).status).toBe(303);
  });
});
