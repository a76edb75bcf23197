/**
 * RFC 8252 §7.3 loopback redirects: a redirect URI registered as `http://127.0.0.1/cb` or `http://[::1]/cb`
 * (no port) matches the same URI with any port at the authorization endpoint, and the token endpoint then wants
 * exactly the URI of the authorization request, port included. Everything else stays an exact match: a port on a
 * registered URI, `localhost`, https, another path or query.
 */
import request from 'supertest';
import { matchesRegisteredRedirectUri } from '../../src/oauth/interaction/authorize-request';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { authorizeQuery, Browser, OAUTH, OWNER, pkce, putClient, redirectParams, submitConsent, submitLogin, validParams } from './authorize-helpers';

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
  await putClient(t, 'native', { redirectUri: ['http://127.0.0.1/cb', 'http://[::1]/cb'] });
  await putClient(t, 'fixed-port', { redirectUri: ['http://127.0.0.1:8400/cb', 'http://localhost/cb'] });
});
afterAll(async () => t.close());

/** Runs the authorization request up to the redirect carrying the code. */
async function codeFor(clientId: string, redirectUri: string, challenge: string): Promise<string> {
  const browser = new Browser(t.app);
  const first = await browser.get(authorizeQuery(validParams(challenge, { client_id: clientId, redirect_uri: redirectUri, scope: 'openid user/Patient.rs' })));
  const consent = await submitLogin(browser, first, OWNER);
  // Consent given once for these scopes is remembered: the sign-in then redirects to the client at once.
  const done = String(consent.headers.location ?? '').startsWith(redirectUri) ? consent : await submitConsent(browser, consent, 'allow');
  return redirectParams(done, redirectUri).code as string;
}

function token(clientId: string, code: string, redirectUri: string, verifier: string) {
  return request(t.app).post(`${OAUTH}/token`).type('form').send({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: redirectUri, code_verifier: verifier });
}

describe('matchesRegisteredRedirectUri', () => {
  it.each([
    ['http://127.0.0.1/cb', 'http://127.0.0.1:51234/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:1/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:65535/cb'],
    ['http://[::1]/cb', 'http://[::1]:8080/cb'],
    ['http://127.0.0.1/cb?x=1', 'http://127.0.0.1:9000/cb?x=1'],
    ['http://127.0.0.1', 'http://127.0.0.1:9000'],
    ['https://app.example/cb', 'https://app.example/cb'],
  ])('%s accepts %s', (registered, given) => {
    expect(matchesRegisteredRedirectUri(registered, given)).toBe(true);
  });

  it.each([
    ['http://127.0.0.1/cb', 'http://127.0.0.1:0/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:65536/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:08080/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080/cb/'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080/cb?x=1'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080/CB'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080/cb#f'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080@evil.example/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080.evil.example/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.2:8080/cb'],
    ['http://127.0.0.1/cb', 'https://127.0.0.1:8080/cb'],
    ['http://127.0.0.1/cb', 'http://[::1]:8080/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:/cb'],
    ['http://127.0.0.1:8400/cb', 'http://127.0.0.1:8401/cb'],
    ['http://localhost/cb', 'http://localhost:8080/cb'],
    ['https://app.example/cb', 'https://app.example:8443/cb'],
    ['http://127.0.0.1.evil.example/cb', 'http://127.0.0.1.evil.example:80/cb'],
  ])('%s refuses %s', (registered, given) => {
    expect(matchesRegisteredRedirectUri(registered, given)).toBe(false);
  });
});

describe('authorization and token endpoints', () => {
  it('redirects to the loopback URI with the port of the request, and issues tokens for exactly that URI', async () => {
    for (const uri of ['http://127.0.0.1:49152/cb', 'http://[::1]:3999/cb']) {
      const { verifier, challenge } = pkce();
      const code = await codeFor('native', uri, challenge);
      const res = await token('native', code, uri, verifier);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'openid user/Patient.rs' });
    }
  });

  it('refuses a token request naming another port, or the registered URI without one', async () => {
    for (const other of ['http://127.0.0.1:49153/cb', 'http://127.0.0.1/cb']) {
      const { verifier, challenge } = pkce();
      const code = await codeFor('native', 'http://127.0.0.1:49152/cb', challenge);
      const res = await token('native', code, other, verifier);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'redirect_uri does not match the authorization request' });
    }
  });

  it('keeps an exact match for every other URI: an error page, never a redirect', async () => {
    const { challenge } = pkce();
    const cases: Array<[string, string]> = [
      ['fixed-port', 'http://127.0.0.1:8401/cb'],
      ['fixed-port', 'http://localhost:8080/cb'],
      ['native', 'http://127.0.0.1:8080/other'],
      ['native', 'http://127.0.0.1:8080@evil.example/cb'],
      ['app', 'https://app.example:8443/callback'],
    ];
    await putClient(t, 'app');
    for (const [clientId, uri] of cases) {
      const res = await request(t.app).get(authorizeQuery(validParams(challenge, { client_id: clientId, redirect_uri: uri })));
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toMatch(/redirect_uri is not registered/);
    }
    const exact = await request(t.app).get(authorizeQuery(validParams(challenge, { client_id: 'fixed-port', redirect_uri: 'http://127.0.0.1:8400/cb' })));
    expect(exact.status).toBe(303);
  });

  it('registers the CLI client in the bootstrap project with loopback redirect URIs', async () => {
    const res = await t.api.get(`${t.base}/ClientApplication/fhir-smart-cli`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'active', tokenEndpointAuthMethod: 'none', redirectUri: ['http://127.0.0.1/cb', 'http://[::1]/cb'] });
    const { verifier, challenge } = pkce();
    const uri = 'http://127.0.0.1:40000/cb';
    const code = await codeFor('fhir-smart-cli', uri, challenge);
    expect((await token('fhir-smart-cli', code, uri, verifier)).status).toBe(200);
  });
});
