/**
 * The authorization code flow driven by a standard client library (openid-client 6) over real HTTP: discovery,
 * authorization URL with PKCE S256, state and nonce; login and consent submitted as a browser would; the callback
 * checked by the library (state, and iss per RFC 9207 since discovery advertises it), the code exchanged, and the id_token validated (signature
 * against the JWKS, iss, aud, nonce, exp).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { Browser, putClient, putUser, submitConsent, submitLogin } from './authorize-helpers';

let t: TestApp;
const server = http.createServer();
let issuer = '';
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await buildTestApp({ PUBLIC_URL: base });
  server.on('request', t.app);
  issuer = `${base}/w/default/default`;
  await putClient(t, 'oc-app', { name: 'openid-client app', redirectUri: [REDIRECT] });
  await putUser(t, 'grace');
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

describe('openid-client', () => {
  it('completes the authorization code flow with PKCE and validates the id_token', async () => {
    const config = await oidc.discovery(new URL(issuer), 'oc-app', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access patient/Observation.rs',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    expect(url.href.startsWith(`${issuer}/api/v1/oauth/authorize?`)).toBe(true);

    const browser = new Browser(t.app);
    const start = await browser.get(`${url.pathname}${url.search}`);
    const consent = await submitLogin(browser, start, { email: 'grace@example.org', password: 'password of grace' });
    const callback = await submitConsent(browser, consent, 'allow');
    expect(callback.status).toBe(303);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(String(callback.headers.location)), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('openid offline_access patient/Observation.rs');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.claims()).toMatchObject({ iss: issuer, aud: 'oc-app', sub: 'User/grace', nonce });

    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'User/grace');
    expect(info.sub).toBe('User/grace');
  });

  it('reports Deny as access_denied after checking state and iss of the error redirect', async () => {
    const config = await oidc.discovery(new URL(issuer), 'oc-app', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid patient/Patient.rs',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const browser = new Browser(t.app);
    const start = await browser.get(`${url.pathname}${url.search}`);
    const consent = await submitLogin(browser, start, { email: 'grace@example.org', password: 'password of grace' });
    const callback = await submitConsent(browser, consent, 'deny');
    const failure = oidc.authorizationCodeGrant(config, new URL(String(callback.headers.location)), { pkceCodeVerifier: verifier, expectedState: state });
    await expect(failure).rejects.toBeInstanceOf(oidc.AuthorizationResponseError);
    await expect(failure).rejects.toMatchObject({ error: 'access_denied', error_description: 'The user denied the request' });
  });
});
