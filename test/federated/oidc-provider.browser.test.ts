/**
 * Federated sign-in end to end in headless Chromium, against a REAL upstream OpenID provider: panva's
 * oidc-provider on a loopback port (test/federated/upstream/oidc-provider.mjs), found by discovery. The app is a
 * public SMART client of this server; it must end with THIS server's code and tokens.
 * Covered: the sign-in button with email matching (and the User linked), the email-first step sending a configured
 * domain to its provider (login_hint passed on) with auto-provisioning, an unverified email refused, and the user
 * cancelling at the provider (access_denied) shown as a page.
 */
import http from 'node:http';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { pkce, putClient, putUser, repo } from '../oauth/authorize-helpers';
import { BROWSER_AVAILABLE, launchChromium, listen, putProvider, startOidcProvider, type Upstream } from './federation-helpers';

if (!BROWSER_AVAILABLE) console.log('skipping browser tests: /usr/bin/chromium is missing (install it with: apt-get install chromium)');
const describeBrowser = BROWSER_AVAILABLE ? describe : describe.skip;

describeBrowser('federated sign-in through oidc-provider in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let upstream: Upstream;
  const server = http.createServer();
  const callbackServer = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end('<!DOCTYPE html><title>Callback</title><p>Back at the app</p>');
  });
  let base = '';
  let redirectUri = '';
  let policyId = '';

  beforeAll(async () => {
    base = `http://127.0.0.1:${await listen(server)}`;
    redirectUri = `http://127.0.0.1:${await listen(callbackServer)}/callback`;
    t = await buildTestApp({ PUBLIC_URL: base, ALLOW_HTTP_JWKS_URI: 'loopback' });
    server.on('request', t.app);
    upstream = await startOidcProvider({
      CLIENT_ID: 'fhir-server',
      CLIENT_SECRET: 'upstream-secret-for-the-fhir-server',
      REDIRECT_URI: `${base}/w/default/default/api/v1/oauth/federated/callback`,
    });
    await putClient(t, 'browser-app', { name: 'Browser App', redirectUri: [redirectUri] });
    const policy = await repo(t).create({ resourceType: 'AccessPolicy', name: 'Provisioned staff', engine: 'rule-engine', rule: [] });
    policyId = String(policy.resource.id);
    await putProvider(t, 'hospital-idp', {
      name: 'Hospital IdP',
      issuer: upstream.issuer,
      clientId: 'fhir-server',
      clientSecret: 'upstream-secret-for-the-fhir-server',
      emailDomains: ['hospital.example'],
      autoProvision: true,
      defaultMembership: { role: 'member', accessPolicy: { reference: `AccessPolicy/${policyId}` } },
      button: { label: 'Sign in with Hospital IdP' },
    });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await upstream?.stop();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => callbackServer.close(resolve));
    await t?.close();
  });

  async function openAuthorize(page: Page, challenge: string, state: string): Promise<void> {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'browser-app',
      redirect_uri: redirectUri,
      scope: 'openid fhirUser user/Observation.rs',
      aud: `${base}/w/default/default/api/v1/fhir/r4`,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${base}/w/default/default/api/v1/oauth/authorize?${query}`);
  }

  /** Signs in at oidc-provider's development pages (login, then its consent), as the user would. */
  async function upstreamSignIn(page: Page, login: string | undefined): Promise<void> {
    await page.waitForURL(`${upstream.issuer}/**`);
    if (login !== undefined) await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  async function exchange(code: string, verifier: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${base}/w/default/default/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: 'browser-app' }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  it('signs in with the button, matches the verified email, links the User and returns this server’s tokens', async () => {
    await putUser(t, 'nurse', { email: 'nurse@hospital.example' });
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text()) && page.url().startsWith(base)) violations.push(msg.text());
    });
    const { verifier, challenge } = pkce();
    await openAuthorize(page, challenge, 'button-state');
    await page.getByRole('link', { name: 'Sign in with Hospital IdP' }).click();
    await upstreamSignIn(page, 'nurse@hospital.example');

    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.getByText('Signed in as').textContent()).toContain('nurse@hospital.example');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    const params = Object.fromEntries(new URL(page.url()).searchParams);
    expect(params).toMatchObject({ state: 'button-state', iss: `${base}/w/default/default` });

    const tokens = await exchange(params.code ?? '', verifier);
    const idToken = decodeJwt(String(tokens.id_token));
    const accessToken = decodeJwt(String(tokens.access_token));
    expect(idToken.iss).toBe(`${base}/w/default/default`);
    expect(idToken.aud).toBe('browser-app');
    expect(idToken.sub).toBe('User/nurse');
    expect(accessToken.iss).toBe(`${base}/w/default/default`);
    expect(String(tokens.access_token)).not.toContain(upstream.issuer);

    const user = await t.storage.resources.readCurrent(t.boot.project.key, 'User', 'nurse');
    expect(user?.resource?.identity).toEqual([{ provider: { reference: 'IdentityProvider/hospital-idp' }, subject: 'nurse@hospital.example' }]);
    expect(violations).toEqual([]);
    await context.close();
  }, 120_000);

  it('sends an email of a configured domain straight to its provider and provisions the new user', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const { verifier, challenge } = pkce();
    await openAuthorize(page, challenge, 'email-first');
    // The email-first step: no password field until the domain is known.
    expect(await page.getByLabel('Password').count()).toBe(0);
    await page.getByLabel('Email').fill('new.doctor@hospital.example');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${upstream.issuer}/**`);
    // login_hint reached the provider: its form is pre-filled.
    expect(await page.locator('input[name=login]').inputValue()).toBe('new.doctor@hospital.example');
    await upstreamSignIn(page, undefined);

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    const tokens = await exchange(new URL(page.url()).searchParams.get('code') ?? '', verifier);
    const sub = String(decodeJwt(String(tokens.id_token)).sub);
    const userId = sub.replace(/^User\//, '');
    const user = (await t.storage.resources.readCurrent(t.boot.project.key, 'User', userId))?.resource;
    expect(user).toMatchObject({
      email: 'new.doctor@hospital.example',
      role: 'member',
      passwordLogin: false,
      emailVerified: true,
      identity: [{ provider: { reference: 'IdentityProvider/hospital-idp' }, subject: 'new.doctor@hospital.example' }],
    });
    const memberships = await t.storage.resources.search({ project: t.boot.project.key, type: 'Membership', 'index.user': { $elemMatch: { r: `User/${userId}` } } });
    expect(memberships).toHaveLength(1);
    const policy = (await t.storage.resources.readCurrent(t.boot.project.key, 'AccessPolicy', policyId))?.resource;
    expect(policy?.target).toEqual([{ link: { reference: `Membership/${memberships[0]?.id}` } }]);
    await context.close();
  }, 120_000);

  it('an email of another domain gets the password step', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await openAuthorize(page, pkce().challenge, 'other-domain');
    await page.getByLabel('Email').fill('admin@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').waitFor();
    expect(await page.getByLabel('Email').inputValue()).toBe('admin@example.com');
    expect(page.url().startsWith(base)).toBe(true);
    await context.close();
  }, 120_000);

  it('refuses an email the provider does not call verified, with a page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await openAuthorize(page, pkce().challenge, 'unverified');
    await page.getByRole('link', { name: 'Sign in with Hospital IdP' }).click();
    await upstreamSignIn(page, 'unverified@hospital.example');
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your email address is not verified');
    expect(page.url().startsWith(`${base}/w/default/default/api/v1/oauth/federated/callback?`)).toBe(true);
    const found = await t.storage.resources.search({ project: t.boot.project.key, type: 'User', uniqueKeys: 'User.email|unverified@hospital.example' });
    expect(found).toHaveLength(0);
    expect(t.logLines.some((l) => l.event === 'login_failed' && l.reason === 'email_unverified' && l.provider === 'hospital-idp')).toBe(true);
    await context.close();
  }, 120_000);

  it('shows a page when the user cancels at the provider (access_denied)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await openAuthorize(page, pkce().challenge, 'cancelled');
    await page.getByRole('link', { name: 'Sign in with Hospital IdP' }).click();
    await page.waitForURL(`${upstream.issuer}/**`);
    const response = page.waitForResponse((r) => r.url().startsWith(`${base}/w/default/default/api/v1/oauth/federated/callback?`));
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    expect((await response).status()).toBe(403);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign-in was cancelled');
    expect(await page.getByText('access_denied').count()).toBe(1);
    await context.close();
  }, 120_000);
});
