/**
 * The authorization code flow driven by a standard client library (openid-client 6) over real HTTP: discovery,
 * authorization URL with PKCE S256, state and nonce; login and consent submitted as a browser would; the callback
 * checked by the library (state, and iss per RFC 9207 since discovery advertises it), the code exchanged, and the id_token validated (signature
 * against the JWKS, iss, aud, nonce, exp). SMART requests (resource scopes) carry `aud`; a plain OpenID Connect
 * sign-in needs none, and a SMART request without it comes back as an `invalid_request` error.
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
const fhirBase = (): string => `${issuer}/api/v1/fhir/r4`;

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await buildTestApp({ PUBLIC_URL: base });
  server.on('request', t.app);
  issuer = `${base}/w/default/default`;
  await putClient(t, 'oc-app', {
    name: 'openid-client app',
    redirectUri: [REDIRECT],
    scope: 'openid profile email fhirUser offline_access launch/patient patient/Observation.rs patient/Patient.rs',
  });
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
      aud: fhirBase(),
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
      aud: fhirBase(),
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

  it('signs in with OpenID Connect scopes alone without aud', async () => {
    const config = await oidc.discovery(new URL(issuer), 'oc-app', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid profile email fhirUser offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    expect(url.searchParams.has('aud')).toBe(false);
    const browser = new Browser(t.app);
    const consent = await submitLogin(browser, await browser.get(`${url.pathname}${url.search}`), { email: 'grace@example.org', password: 'password of grace' });
    const callback = await submitConsent(browser, consent, 'allow');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(String(callback.headers.location)), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(tokens.scope).toBe('openid profile email fhirUser offline_access');
    expect(tokens.claims()).toMatchObject({ iss: issuer, aud: 'oc-app', sub: 'User/grace', nonce });
  });

  it.each([
    ['resource scopes', 'openid patient/Observation.rs'],
    ['launch/patient', 'openid launch/patient'],
    ['the launch scope', 'openid launch'],
    ['a scope beyond a sign-in', 'openid online_access'],
  ])('answers invalid_request with state, and no code, to %s without aud', async (_name, scope) => {
    const config = await oidc.discovery(new URL(issuer), 'oc-app', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const res = await new Browser(t.app).get(`${url.pathname}${url.search}`);
    expect(res.status).toBe(303);
    const location = new URL(String(res.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: 'invalid_request',
      error_description: `aud is required: the FHIR base URL ${fhirBase()}`,
      state,
      iss: issuer,
    });
    const failure = oidc.authorizationCodeGrant(config, location, { pkceCodeVerifier: verifier, expectedState: state });
    await expect(failure).rejects.toMatchObject({ error: 'invalid_request' });
  });

  it('still refuses an aud that is not this FHIR base, for sign-ins too', async () => {
    const config = await oidc.discovery(new URL(issuer), 'oc-app', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    for (const [scope, aud] of [['openid patient/Observation.rs', 'https://elsewhere.example/fhir'], ['openid', `${fhirBase()}/`]] as const) {
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope,
        aud,
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: 'st-aud',
      });
      const res = await new Browser(t.app).get(`${url.pathname}${url.search}`);
      expect({ scope, params: Object.fromEntries(new URL(String(res.headers.location)).searchParams) }).toEqual({
        scope,
        params: { error: 'invalid_request', error_description: `aud must be this server's FHIR base URL ${fhirBase()}`, state: 'st-aud', iss: issuer },
      });
    }
  });
});
