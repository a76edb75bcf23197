/**
 * The access log, captured from real requests: a sign-in with authorization code and PKCE, the code exchanged at
 * the token endpoint, FHIR reads with the user's and a client's token. Each line names tenant, project, the full
 * path, client, user, client IP (under TRUST_PROXY), status, duration and request id; no credential of the flow
 * (code, state, verifier, tokens, secrets, password) appears anywhere in the log.
 */
import request from 'supertest';
import { loggedPath, redactQuery } from '../../src/http/access-log';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { Browser, FHIR_BASE, OAUTH, pkce, putClient, putUser, REDIRECT, redirectParams, repo, submitConsent, submitLogin } from '../oauth/authorize-helpers';

const FHIR = '/w/default/default/api/v1/fhir/r4';

type Line = Record<string, unknown>;

function accessLines(t: TestApp): Line[] {
  return t.logLines.filter((line) => line.msg === 'request completed');
}

function lineOf(t: TestApp, requestId: string): Line {
  const lines = accessLines(t).filter((line) => line.requestId === requestId);
  expect(lines).toHaveLength(1);
  return lines[0] as Line;
}

describe('access log lines of a full flow', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ TRUST_PROXY: 'loopback' });
    await putClient(t, 'app');
    await repo(t).update('Patient', 'pat-1', { resourceType: 'Patient', id: 'pat-1' });
    await putUser(t, 'ada', { role: 'admin' }, { link: { reference: 'Patient/pat-1' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('names the project, path, client, user, IP, status, duration and request id, and never a credential', async () => {
    const { verifier, challenge } = pkce();
    const state = 'state-value-7f3a9c';
    const browser = new Browser(t.app);
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'app',
      redirect_uri: REDIRECT,
      scope: 'openid fhirUser offline_access user/Patient.rs',
      aud: FHIR_BASE,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const start = await browser.get(`${OAUTH}/authorize?${query.toString()}`);
    const signedIn = await submitLogin(browser, start, { email: 'ada@example.org', password: 'password of ada' });
    const done = String(signedIn.headers.location).includes('/consent?') ? await submitConsent(browser, signedIn, 'allow') : signedIn;
    const { code } = redirectParams(done);
    expect(code).toEqual(expect.any(String));

    const tokens = await request(t.app)
      .post(`${OAUTH}/token`)
      .set('X-Request-Id', 'token-exchange-0001')
      .set('X-Forwarded-For', '203.0.113.7')
      .type('form')
      .send({ grant_type: 'authorization_code', code: code as string, redirect_uri: REDIRECT, client_id: 'app', code_verifier: verifier });
    expect(tokens.status).toBe(200);
    const { access_token: accessToken, refresh_token: refreshToken } = tokens.body as Record<string, string>;

    const read = await request(t.app)
      .get(`${FHIR}/Patient/pat-1?_elements=id`)
      .set('Authorization', `Bearer ${accessToken}`)
      .set('X-Request-Id', 'patient-read-0001')
      .set('X-Forwarded-For', '198.51.100.23');
    expect(read.status).toBe(200);

    // A client sending credentials in the query string: the values never reach the log, whatever the spelling.
    const leaky = await request(t.app)
      .get(
        `${FHIR}/Patient?code=code-in-query-1&STATE=state-in-query-2&%63lient_secret=secret-in-query-3&access_token=${accessToken}` +
          `&refresh_token:x=${refreshToken}&password=pw-in-query-4&code_verifier=${verifier}&family=Lovelace`,
      )
      .set('Authorization', `Bearer ${t.adminToken}`)
      .set('X-Request-Id', 'leaky-query-0001');
    expect(leaky.status).toBeLessThan(500);

    const exchange = lineOf(t, 'token-exchange-0001');
    expect(exchange).toMatchObject({
      method: 'POST',
      path: `${OAUTH}/token`,
      tenant: 'default',
      project: 'default',
      clientId: 'app',
      ip: '203.0.113.7',
      status: 200,
      durationMs: expect.any(Number),
    });

    const userRead = lineOf(t, 'patient-read-0001');
    expect(userRead).toEqual(
      expect.objectContaining({
        level: 30,
        method: 'GET',
        path: `${FHIR}/Patient/pat-1?_elements=id`,
        tenant: 'default',
        project: 'default',
        clientId: 'app',
        userId: 'ada',
        ip: '198.51.100.23',
        status: 200,
        durationMs: expect.any(Number),
        requestId: 'patient-read-0001',
      }),
    );

    const leakyLine = lineOf(t, 'leaky-query-0001');
    expect(leakyLine.path).toBe(
      `${FHIR}/Patient?code=[redacted]&STATE=[redacted]&%63lient_secret=[redacted]&access_token=[redacted]` +
        '&refresh_token:x=[redacted]&password=[redacted]&code_verifier=[redacted]&family=Lovelace',
    );
    expect(leakyLine).toMatchObject({ clientId: 'admin-cli', tenant: 'default', project: 'default' });

    // The authorize request carried state and the code challenge; the sign-in named the user.
    const authorizeLine = accessLines(t).find((line) => String(line.path).startsWith(`${OAUTH}/authorize?`)) as Line;
    expect(authorizeLine).toMatchObject({ clientId: 'app', status: 303, tenant: 'default', project: 'default' });
    expect(authorizeLine.path).toContain('state=[redacted]');
    const loginLine = accessLines(t).find((line) => line.method === 'POST' && String(line.path).startsWith(`${OAUTH}/login`)) as Line;
    expect(loginLine).toMatchObject({ userId: 'ada', status: 303 });

    // Every line of the whole run: no credential, in any field.
    const log = JSON.stringify(t.logLines);
    for (const secret of [
      code,
      state,
      verifier,
      accessToken,
      refreshToken,
      'password of ada',
      'code-in-query-1',
      'state-in-query-2',
      'secret-in-query-3',
      'pw-in-query-4',
      t.adminToken,
      'admin-client-secret-for-tests',
    ]) {
      expect(log).not.toContain(secret);
    }
    // Every access line has the same shape: a path from `/`, a status, a duration and a request id.
    for (const line of accessLines(t)) {
      expect(line).toMatchObject({ path: expect.stringMatching(/^\//), status: expect.any(Number), durationMs: expect.any(Number), requestId: expect.any(String), ip: expect.any(String) });
    }
  });

  it('logs paths outside a project without tenant or project, and the RFC 8414 discovery path with them', async () => {
    await request(t.app).get('/healthz').set('X-Request-Id', 'health-0000001');
    expect(lineOf(t, 'health-0000001')).not.toHaveProperty('tenant');
    await request(t.app).get('/.well-known/openid-configuration/w/default/default').set('X-Request-Id', 'discovery-00001');
    expect(lineOf(t, 'discovery-00001')).toMatchObject({ tenant: 'default', project: 'default', status: 200 });
  });
});

describe('client IP without TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('is the socket peer: X-Forwarded-For from an untrusted peer is ignored', async () => {
    await request(t.app).get('/healthz').set('X-Forwarded-For', '203.0.113.7').set('X-Request-Id', 'untrusted-0001');
    const line = lineOf(t, 'untrusted-0001');
    expect(line.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
  });
});

describe('redaction of a request target', () => {
  it.each([
    ['/a?code=1&x=2', '/a?code=[redacted]&x=2'],
    ['/a?x=1&Client_Secret=2&client_assertion=3&id_token_hint=4', '/a?x=1&Client_Secret=[redacted]&client_assertion=[redacted]&id_token_hint=[redacted]'],
    ['/a?%73tate=1&code%3Atext=2&token=3', '/a?%73tate=[redacted]&code%3Atext=[redacted]&token=[redacted]'],
    ['/a?client_secret[]=1&code', '/a?client_secret[]=[redacted]&code'],
    ['/a?%zz=1&state=%zz', '/a?%zz=1&state=[redacted]'],
    ['/a', '/a'],
    ['http://evil.example/w/t/p/x?code=1', '/w/t/p/x?code=[redacted]'],
  ])('%s is logged as %s', (target, logged) => {
    expect(loggedPath(target)).toBe(logged);
  });

  it('keeps other parameters exactly as sent', () => {
    expect(redactQuery('name=a%20b&_count=5&&=x')).toBe('name=a%20b&_count=5&&=x');
  });
});
