/**
 * Federated sign-in where the upstream provider is a second instance of this server (its own store, keys, project
 * and users), in headless Chromium: instance B registers instance A as a confidential client; A registers B as an
 * IdentityProvider found by discovery at `{B issuer}/.well-known/openid-configuration`. A person signs in at B's
 * login page; A matches them by the verified email (B's UserInfo) or by B's `sub`, and the app gets A's tokens.
 */
import http from 'node:http';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { FhirRepository, type Resource } from '../../src/fhir/repository/repository';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { pkce, putClient, putUser } from '../oauth/authorize-helpers';
import { BROWSER_AVAILABLE, launchChromium, listen, putProvider } from './federation-helpers';

if (!BROWSER_AVAILABLE) console.log('skipping browser tests: /usr/bin/chromium is missing (install it with: apt-get install chromium)');
const describeBrowser = BROWSER_AVAILABLE ? describe : describe.skip;

const DOWNSTREAM_SECRET = 'Downstream0Client0Secret0For0Instance0A';

describeBrowser('a second instance of this server as the upstream provider', () => {
  let a: TestApp;
  let b: TestApp;
  let browser: Browser;
  const serverA = http.createServer();
  const serverB = http.createServer();
  const app = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end('<!DOCTYPE html><title>Callback</title><p>Back at the app</p>');
  });
  let baseA = '';
  let baseB = '';
  let redirectUri = '';

  beforeAll(async () => {
    baseA = `http://127.0.0.1:${await listen(serverA)}`;
    baseB = `http://127.0.0.1:${await listen(serverB)}`;
    redirectUri = `http://127.0.0.1:${await listen(app)}/callback`;
    a = await buildTestApp({ PUBLIC_URL: baseA, ALLOW_HTTP_JWKS_URI: 'loopback' });
    b = await buildTestApp({ PUBLIC_URL: baseB, ADMIN_EMAIL: 'owner@upstream.example' });
    serverA.on('request', a.app);
    serverB.on('request', b.app);

    // Instance B: its own user, and instance A as a confidential client.
    const repoB = new FhirRepository(b.storage.resources, b.boot.project.key);
    await repoB.update('ClientApplication', 'instance-a', {
      resourceType: 'ClientApplication',
      id: 'instance-a',
      name: 'Instance A',
      status: 'active',
      grantType: ['authorization_code'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: DOWNSTREAM_SECRET,
      redirectUri: [`${baseA}/w/default/default/api/v1/oauth/federated/callback`],
      scope: 'openid email profile',
      consentRequired: false,
    } as Resource);
    await repoB.update('User', 'alice-at-b', { resourceType: 'User', id: 'alice-at-b', email: 'alice@upstream.example', emailVerified: true, role: 'member', password: 'alice password at b' } as Resource);
    await repoB.update('User', 'bob-at-b', { resourceType: 'User', id: 'bob-at-b', email: 'bob@upstream.example', emailVerified: true, role: 'member', password: 'bob password at b' } as Resource);

    // Instance A: the app, its users, and B as two IdentityProviders (email and sub matching).
    await putClient(a, 'browser-app', { name: 'Browser App', redirectUri: [redirectUri] });
    await putUser(a, 'alice', { email: 'alice@upstream.example' });
    await putUser(a, 'robert', { email: 'robert@a.example', identity: [{ provider: { reference: 'IdentityProvider/instance-b-sub' }, subject: 'User/bob-at-b' }] });
    const common = { issuer: `${baseB}/w/default/default`, clientId: 'instance-a', clientSecret: DOWNSTREAM_SECRET };
    await putProvider(a, 'instance-b', { name: 'Instance B', ...common });
    await putProvider(a, 'instance-b-sub', { name: 'Instance B (by subject)', ...common, userMatching: 'sub' });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const server of [serverA, serverB, app]) await new Promise((resolve) => server.close(resolve));
    await a?.close();
    await b?.close();
  });

  async function signInThroughB(page: Page, button: string, credentials: { email: string; password: string }): Promise<string> {
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'browser-app',
      redirect_uri: redirectUri,
      scope: 'openid fhirUser',
      state: 'through-b',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${baseA}/w/default/default/api/v1/oauth/authorize?${query}`);
    await page.getByRole('link', { name: button, exact: true }).click();
    await page.waitForURL(`${baseB}/w/default/default/api/v1/oauth/login?**`);
    await page.getByLabel('Email').fill(credentials.email);
    await page.getByLabel('Password').fill(credentials.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back at A: its consent page.
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    const code = new URL(page.url()).searchParams.get('code') ?? '';
    const res = await fetch(`${baseA}/w/default/default/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: 'browser-app' }),
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { id_token: string; access_token: string };
    const idToken = decodeJwt(tokens.id_token);
    expect(idToken.iss).toBe(`${baseA}/w/default/default`);
    expect(decodeJwt(tokens.access_token).iss).toBe(`${baseA}/w/default/default`);
    return String(idToken.sub);
  }

  it('matches the verified email B shares, links the User, and the app gets A’s tokens', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    expect(await signInThroughB(page, 'Sign in with Instance B', { email: 'alice@upstream.example', password: 'alice password at b' })).toBe('User/alice');
    const alice = await a.storage.resources.readCurrent(a.boot.project.key, 'User', 'alice');
    expect(alice?.resource?.identity).toEqual([{ provider: { reference: 'IdentityProvider/instance-b' }, subject: 'User/alice-at-b' }]);
    await context.close();
  }, 120_000);

  it('matches by B’s subject when the provider says so', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    expect(await signInThroughB(page, 'Sign in with Instance B (by subject)', { email: 'bob@upstream.example', password: 'bob password at b' })).toBe('User/robert');
    await context.close();
  }, 120_000);
});
