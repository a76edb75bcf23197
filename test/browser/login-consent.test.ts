/**
 * The login and consent pages in a real headless Chromium against a real listener: the browser opens
 * /authorize, signs in by the labelled fields, allows access, and lands on the client's redirect URI (a tiny
 * local listener) with code, state and iss; and unticks one scope on the consent page by clicking, so that the
 * token response lacks it. The pages' CSP is enforced by the browser, so this also proves that the stylesheet
 * hash and `form-action` (including the redirect after the form post) are right.
 *
 * Skipped, with a printed reason, only when /usr/bin/chromium is missing and CI is not set.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { OWNER, pkce, putClient } from '../oauth/authorize-helpers';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!available) console.log(`skipping browser tests: ${CHROMIUM} is missing (install it with: apt-get install chromium)`);
const describeBrowser = available ? describe : describe.skip;

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

describeBrowser('login and consent in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  const server = http.createServer();
  const callbacks: string[] = [];
  const callbackServer = http.createServer((req, res) => {
    callbacks.push(req.url ?? '');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end('<!DOCTYPE html><title>Callback</title><p>Back at the app</p>');
  });
  let base = '';
  let redirectUri = '';

  beforeAll(async () => {
    const port = await listen(server);
    redirectUri = `http://127.0.0.1:${await listen(callbackServer)}/callback`;
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({ PUBLIC_URL: base });
    server.on('request', t.app);
    await putClient(t, 'browser-app', { name: 'Browser App', redirectUri: [redirectUri] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 60_000);

  /** Opens `/authorize` for the browser app (a SMART request: `aud` is this FHIR base) and signs the owner in. */
  async function signIn(page: Page, scope: string, state: string, challenge: string): Promise<void> {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'browser-app',
      redirect_uri: redirectUri,
      scope,
      aud: `${base}/w/default/default/api/v1/fhir/r4`,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${base}/w/default/default/api/v1/oauth/authorize?${query}`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => callbackServer.close(resolve));
    await t?.close();
  });

  it('signs in, allows access and returns to the client with code, state and iss', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
    const { challenge } = pkce();
    await signIn(page, 'openid patient/Observation.rs', 'browser state/é', challenge);

    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Allow access?');
    expect(await page.getByText('Read and search your Observation records').count()).toBe(1);
    // Evaluated in the page (a string, since this project compiles without the DOM library).
    const styled = await page.evaluate('getComputedStyle(document.querySelector("button[value=allow]")).backgroundColor');
    expect(styled).toBe('rgb(29, 78, 216)');
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL(`${redirectUri}?**`, { timeout: 10_000 });
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({
      code: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
      state: 'browser state/é',
      iss: `${base}/w/default/default`,
    });
    expect(callbacks.filter((path) => path.startsWith('/callback?'))).toHaveLength(1);
    expect(violations).toEqual([]);
    const cookies = await context.cookies(`${base}/w/default/default/api/v1/oauth/login`);
    expect(cookies.find((c) => c.name === 'fhir_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Lax',
      secure: false,
      path: '/w/default/default/api/v1/oauth',
    });
    await context.close();
  }, 60_000);

  it('leaves out a scope unticked on the consent page: the token response and the FHIR API agree', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
    const { verifier, challenge } = pkce();
    await signIn(page, 'openid offline_access user/Observation.rs user/Patient.rs', 'choose', challenge);

    const patients = page.getByRole('checkbox', { name: /^Read and search Patient records you have access to/ });
    const observations = page.getByRole('checkbox', { name: /^Read and search Observation records you have access to/ });
    const identity = page.getByRole('checkbox', { name: /^Confirm your identity/ });
    await patients.waitFor();
    expect([await patients.isChecked(), await observations.isChecked()]).toEqual([true, true]);
    expect([await identity.isChecked(), await identity.isDisabled()]).toEqual([true, true]);
    // Clicking the label unticks the box, as a user would.
    await page.getByText('Read and search Patient records you have access to').click();
    expect(await patients.isChecked()).toBe(false);
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL(`${redirectUri}?**`, { timeout: 10_000 });
    const code = new URL(page.url()).searchParams.get('code') ?? '';
    const tokens = await fetch(`${base}/w/default/default/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: 'browser-app' }),
    });
    expect(tokens.status).toBe(200);
    const body = (await tokens.json()) as Record<string, unknown>;
    expect(body.scope).toBe('openid offline_access user/Observation.rs');
    const fhir = (path: string) => fetch(`${base}/w/default/default/api/v1/fhir/r4${path}`, { headers: { authorization: `Bearer ${String(body.access_token)}` } });
    expect((await fhir('/Observation')).status).toBe(200);
    expect((await fhir('/Patient')).status).toBe(403);
    expect(violations).toEqual([]);
    await context.close();
  }, 60_000);

  it('shows the error for a wrong password on the page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const { challenge } = pkce();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'browser-app',
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${base}/w/default/default/api/v1/oauth/authorize?${query}`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('The email or password is incorrect.');
    expect(await page.getByLabel('Email').inputValue()).toBe(OWNER.email);
    await context.close();
  }, 60_000);
});
