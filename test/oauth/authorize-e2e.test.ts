/**
 * End to end over real HTTP: discovery, /authorize with PKCE (S256) and nonce, login and consent submitted as a
 * browser submits them, the code exchanged at the token endpoint, and the id_token verified against the JWKS.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { Browser, pkce, putClient, putUser, redirectParams, repo, submitConsent, submitLogin } from './authorize-helpers';

let t: TestApp;
const server = http.createServer();
let issuer = '';
let metadata: Record<string, string>;
const REDIRECT = 'http://127.0.0.1:9/cb';

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await buildTestApp({ PUBLIC_URL: base });
  server.on('request', t.app);
  issuer = `${base}/w/default/default`;
  await putClient(t, 'e2e', { redirectUri: [REDIRECT] });
  await repo(t).update('Patient', 'pat-1', { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Lovelace' }] });
  await putUser(t, 'ada', { name: { given: ['Ada'], family: 'Lovelace' } }, { link: { reference: 'Patient/pat-1' } });
  metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

/** Runs /authorize → login → consent (when asked) in a browser and returns the redirect's parameters. */
async function authorize(params: Record<string, string>): Promise<Record<string, string>> {
  const browser = new Browser(t.app);
  const url = new URL(metadata.authorization_endpoint as string);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const start = await browser.get(`${url.pathname}${url.search}`);
  const afterLogin = await submitLogin(browser, start, { email: 'ada@example.org', password: 'password of ada' });
  // Consent is remembered: a later request for scopes already allowed comes straight back with a code.
  const done = String(afterLogin.headers.location).includes('/consent?') ? await submitConsent(browser, afterLogin, 'allow') : afterLogin;
  return redirectParams(done, REDIRECT);
}

async function token(body: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(metadata.token_endpoint as string, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('authorization code flow with PKCE', () => {
  it('discovery names this server\'s authorize endpoint and the iss response parameter', () => {
    expect(metadata).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/api/v1/oauth/authorize`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
  });

  it('issues a code that the token endpoint exchanges for tokens and a verifiable id_token', async () => {
    const { verifier, challenge } = pkce();
    const before = Math.floor(Date.now() / 1000);
    const result = await authorize({
      response_type: 'code',
      client_id: 'e2e',
      redirect_uri: REDIRECT,
      scope: 'openid fhirUser offline_access patient/Observation.rs',
      aud: `${issuer}/api/v1/fhir/r4`,
      state: 'xyz',
      nonce: 'n-0S6_WzA2Mj',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect(result).toEqual({ code: expect.any(String), state: 'xyz', iss: issuer });

    const { status, json } = await token({ grant_type: 'authorization_code', code: result.code as string, redirect_uri: REDIRECT, client_id: 'e2e', code_verifier: verifier });
    expect(status).toBe(200);
    expect(json).toMatchObject({
      token_type: 'Bearer',
      scope: 'openid fhirUser offline_access patient/Observation.rs',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      id_token: expect.any(String),
    });

    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri as string));
    const { payload, protectedHeader } = await jwtVerify(json.id_token as string, jwks, { issuer, audience: 'e2e' });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({
      sub: 'User/ada',
      nonce: 'n-0S6_WzA2Mj',
      fhirUser: `${issuer}/api/v1/fhir/r4/Patient/pat-1`,
    });
    expect(payload.auth_time).toBeGreaterThanOrEqual(before);
    expect(payload.auth_time).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));

    const userinfo = await fetch(metadata.userinfo_endpoint as string, { headers: { authorization: `Bearer ${String(json.access_token)}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ sub: 'User/ada' });
  });

  it('refuses the code with a verifier that does not match the challenge sent to /authorize', async () => {
    const { challenge } = pkce();
    const result = await authorize({ response_type: 'code', client_id: 'e2e', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const { status, json } = await token({ grant_type: 'authorization_code', code: result.code as string, redirect_uri: REDIRECT, client_id: 'e2e', code_verifier: pkce().verifier });
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_grant', error_description: 'code_verifier does not match the code challenge' });
  });
});
