/**
 * A browser SMART app in headless Chromium (SMART App Launch 2.x; issue: standalone and EHR launch end to end).
 * The app page (smart-app-page.ts) is served on its own origin; the FHIR server listens on another (PUBLIC_URL
 * is its own URL). Everything between them is cross-origin: the discovery document, the token exchange and the
 * FHIR reads with `Authorization: Bearer` need the CORS the server grants to origins of registered redirect URIs.
 * - standalone: app → /authorize → login → patient picker → consent → callback → token → Patient, Observations;
 * - EHR: `POST {oauth}/launch` by a user → the app's launchUri with iss and launch → discovery → /authorize
 *   with `launch` → login → consent → callback → token → Patient.
 *
 * Skipped, with a printed reason, only when /usr/bin/chromium is missing and CI is not set.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import { codeTokens, OAUTH, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';
import { smartAppPage } from './smart-app-page';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!available) console.log(`skipping browser tests: ${CHROMIUM} is missing (install it with: apt-get install chromium)`);
const describeBrowser = available ? describe : describe.skip;

/** The fixture's admin (role admin, Membership without a Patient link). */
const USER = { email: 'admin2@example.com', password: 'password of admin2@example.com' };

async function listen(server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('Email').waitFor({ timeout: 15_000 });
  await page.getByLabel('Email').fill(USER.email);
  await page.getByLabel('Password').fill(USER.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function appResult(page: Page): Promise<Record<string, unknown>> {
  await page.waitForFunction('document.getElementById("result")?.textContent || document.getElementById("error")?.textContent', undefined, { timeout: 15_000 });
  const error = await page.locator('#error').textContent();
  if (error) throw new Error(`the app failed: ${error}`);
  return JSON.parse((await page.locator('#result').textContent()) ?? '{}') as Record<string, unknown>;
}

describeBrowser('a SMART app in Chromium', () => {
  let fx: OAuthFixture;
  let browser: Browser;
  let fhirBase = '';
  let appOrigin = '';
  const server = http.createServer();
  const appServer = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(smartAppPage('browser-smart-app'));
  });

  beforeAll(async () => {
    const base = await listen(server);
    appOrigin = await listen(appServer);
    fx = await setupOAuth({ PUBLIC_URL: base });
    server.on('request', fx.t.app);
    fhirBase = fx.fhirBaseUrl;
    await fx.repo.update('ClientApplication', 'browser-smart-app', {
      resourceType: 'ClientApplication', id: 'browser-smart-app', name: 'Browser SMART App', status: 'active', grantType: ['authorization_code'],
      tokenEndpointAuthMethod: 'none', redirectUri: [`${appOrigin}/callback`], launchUri: `${appOrigin}/launch`,
      scope: 'openid fhirUser launch launch/patient patient/*.rs',
    });
    await fx.repo.update('Patient', 'bp-1', { resourceType: 'Patient', id: 'bp-1', name: [{ given: ['Barbara'], family: 'Liskov' }], birthDate: '1939-11-07' });
    await fx.repo.update('Patient', 'bp-2', { resourceType: 'Patient', id: 'bp-2', name: [{ given: ['Frances'], family: 'Allen' }], birthDate: '1932-08-04' });
    for (const [id, patient] of [['bo-1', 'bp-1'], ['bo-2', 'bp-1'], ['bo-3', 'bp-2']] as const) {
      await fx.repo.update('Observation', id, { resourceType: 'Observation', id, status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patient}` } });
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => appServer.close(resolve));
    await fx?.t.close();
  });

  it('runs a standalone launch: login, patient picker, consent, token, Patient and Observations', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${appOrigin}/standalone?iss=${encodeURIComponent(fhirBase)}`);
    await signIn(page);

    await page.getByRole('heading', { name: 'Choose a patient' }).waitFor({ timeout: 15_000 });
    await page.getByLabel('Name').fill('Lisk');
    await page.getByRole('button', { name: 'Search patients' }).click();
    const choose = page.getByRole('button', { name: 'Choose Barbara Liskov, born 1939-11-07' });
    await choose.waitFor({ timeout: 15_000 });
    expect(await page.getByRole('button', { name: /^Choose / }).count()).toBe(1);
    await choose.click();

    await page.getByRole('button', { name: 'Allow' }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${appOrigin}/callback?**`, { timeout: 15_000 });
    expect(await appResult(page)).toEqual({
      patient: 'bp-1',
      scope: 'launch/patient openid fhirUser patient/*.rs',
      patientStatus: 200,
      family: 'Liskov',
      observationStatus: 200,
      observations: ['bo-1', 'bo-2'],
    });
    await context.close();
  }, 60_000);

  it('runs an EHR launch: launch endpoint, launchUri with iss and launch, login, consent, token, Patient', async () => {
    const token = (await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId })).access_token as string;
    const launch = await request(fx.t.app)
      .post(`${OAUTH}/launch`)
      .set('Authorization', `Bearer ${token}`)
      .type('form')
      .send(new URLSearchParams({ client_id: 'browser-smart-app', patient: 'bp-2' }).toString());
    expect(launch.status).toBe(200);
    const url = new URL(launch.body.url as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${appOrigin}/launch`);
    expect(url.searchParams.get('iss')).toBe(fhirBase);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url.toString());
    await signIn(page);
    await page.getByRole('button', { name: 'Allow' }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${appOrigin}/callback?**`, { timeout: 15_000 });
    expect(await appResult(page)).toEqual({
      patient: 'bp-2',
      scope: 'launch openid fhirUser patient/*.rs',
      patientStatus: 200,
      family: 'Allen',
      observationStatus: 200,
      observations: ['bo-3'],
    });
    await context.close();
  }, 60_000);
});
