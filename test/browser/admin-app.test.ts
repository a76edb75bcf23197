/**
 * The admin web app (/admin/) in a real headless Chromium against a real listener, signed in through the server's
 * own OAuth (public client `admin-app`, code + PKCE): register a client and see its secret once, create a user,
 * a membership and an access policy (a FHIRPath compile error shown under the expression first), watch the policy
 * playground deny and then permit after the policy is edited, search and edit a Patient with a validation error
 * shown at the element in the JSON editor, move around with the keyboard, and sign out (the grant is revoked).
 * The pages' CSP is enforced by the browser; no console error and no page error may occur. Screenshots of each
 * main screen go to artifacts/admin-app/ (git-ignored).
 *
 * Needs the built app (generated/admin-app, `npm run build:admin`, part of `npm run build`); built here when
 * missing. Skipped, with a printed reason, only when /usr/bin/chromium is missing and CI is not set.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_APP_DIR } from '../../src/http/admin-app';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { OWNER } from '../oauth/authorize-helpers';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!available) console.log(`skipping browser tests: ${CHROMIUM} is missing (install it with: apt-get install chromium)`);
const describeBrowser = available ? describe : describe.skip;
const ARTIFACTS = path.resolve(__dirname, '../../artifacts/admin-app');

describeBrowser('admin app in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const server = http.createServer();
  let base = '';
  const problems: string[] = [];
  const tokenResponses: Array<Record<string, unknown>> = [];
  const grantTypes: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(ADMIN_APP_DIR, 'index.html'))) {
      execFileSync('npm', ['run', 'build:admin'], { cwd: path.resolve(__dirname, '../..'), stdio: 'inherit' });
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await buildTestApp({ PUBLIC_URL: base });
    server.on('request', t.app);
    await t.api
      .put(`${t.base}/Patient/p-curie`)
      .set('Content-Type', 'application/fhir+json')
      .send({ resourceType: 'Patient', id: 'p-curie', name: [{ family: 'Curie', given: ['Marie'] }], gender: 'female' })
      .expect(201);
    // Short-lived access tokens, so that the app's silent refresh happens during the test.
    await t.api
      .patch(`${t.base}/ClientApplication/admin-app`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'add', path: '/accessTokenLifetime', value: 8 }])
      .expect(200);
    // A second project with its own admin-app client and owner, for the project switcher.
    await t.authorize('acme', 'clinic');
    const clinic = '/w/acme/clinic/api/v1/fhir/r4';
    const put = (type: string, body: Record<string, unknown>) =>
      t.api.put(`${clinic}/${type}/${String(body.id)}`).set('Content-Type', 'application/fhir+json').send({ resourceType: type, ...body }).expect(201);
    await put('ClientApplication', {
      id: 'admin-app',
      name: 'Admin app',
      grantType: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      redirectUri: [`${base}/admin/callback`],
      scope: 'openid fhirUser offline_access user/*.*',
      consentRequired: false,
    });
    await put('User', { id: 'clinic-owner', email: 'clinic-owner@example.com', role: 'owner', active: true, password: 'clinic owner password' });
    await put('Membership', { id: 'clinic-owner', user: { reference: 'User/clinic-owner' }, active: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('console', (msg) => {
      // Chromium logs every 4xx answer as "Failed to load resource"; the refusals this test provokes are expected.
      if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('response', async (res) => {
      if (!res.url().endsWith('/api/v1/oauth/token')) return;
      grantTypes.push(`${new URLSearchParams(res.request().postData() ?? '').get('grant_type')} ${res.status()}`);
      if (!res.ok()) return;
      // A token answer that arrives while the page navigates away (the page.goto below) has no readable body any more.
      const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      if (body) tokenResponses.push(body);
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
    await t?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

  /** Replaces the text of the n-th CodeMirror editor labelled `label`. */
  async function setEditor(label: string, text: string): Promise<void> {
    const editor = page.getByRole('textbox', { name: label, exact: true });
    await editor.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
  }

  /** Picks `option` in the searchable select labelled `label` after typing `search`. */
  async function pick(label: string, search: string, option: RegExp): Promise<void> {
    await page.getByRole('textbox', { name: label, exact: true }).fill(search);
    await page.getByRole('option', { name: option }).click();
  }

  it('links to the app from / and signs in through the server (code + PKCE)', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Admin app' }).click();
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Resources' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await page.getByTestId('signed-in-user').textContent()).toBe(OWNER.email);
    // Tokens in memory only.
    const stored = await page.evaluate('JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])');
    expect(stored).toBe('[[],[]]');
    expect(tokenResponses[0]).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String) });
    await shot('01-resources');
  }, 120_000);

  it('registers a client and shows its secret once', async () => {
    await page.getByRole('link', { name: 'Client applications' }).click();
    await page.getByRole('button', { name: 'New ClientApplication' }).click();
    await page.getByLabel('id (optional; the server assigns one when empty)').fill('lab-backend');
    await page.getByRole('textbox', { name: 'Name' }).fill('Lab backend');
    await page.getByRole('textbox', { name: 'Scopes' }).fill('system/Observation.rs');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Create' }).click();
    const secret = (await page.getByTestId('client-secret').textContent()) ?? '';
    expect(secret.length).toBeGreaterThanOrEqual(16);
    await shot('02-client-secret');
    // The secret works at the token endpoint.
    const res = await fetch(`${base}/w/default/default/api/v1/oauth/token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`lab-backend:${secret}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scope: string }).scope).toBe('system/Observation.rs');
    await page.getByRole('button', { name: 'Close' }).click();
    await page.waitForURL(`${base}/admin/r/ClientApplication/lab-backend`);
    const shown = (await page.getByTestId('resource-json').textContent()) ?? '';
    expect(shown).toContain('"name": "Lab backend"');
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain('"secret"');
  }, 120_000);

  it('creates a user, a membership and a policy (compile errors shown at the expression)', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'New User' }).click();
    await page.getByLabel('id (optional; the server assigns one when empty)').fill('nurse');
    await page.getByRole('textbox', { name: 'Email' }).fill('nurse@example.com');
    await page.getByLabel('Password', { exact: true }).fill('nurse password 123');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${base}/admin/r/User/nurse`);

    await page.getByRole('link', { name: 'Memberships' }).click();
    await page.getByRole('button', { name: 'New Membership' }).click();
    await page.getByLabel('id (optional; the server assigns one when empty)').fill('m-nurse');
    await pick('User', 'nurse', /User\/nurse — nurse@example.com/);
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${base}/admin/r/Membership/m-nurse`);

    await page.getByRole('link', { name: 'Access policies' }).click();
    await page.getByRole('button', { name: 'New AccessPolicy' }).click();
    await page.getByLabel('id (optional; the server assigns one when empty)').fill('nurse-policy');
    await page.getByRole('textbox', { name: 'Policy name' }).fill('Nurses');
    await page.getByRole('button', { name: 'Add target' }).click();
    await pick('Target 1', 'm-nurse', /Membership\/m-nurse/);
    await page.getByRole('button', { name: 'Add rule' }).click();
    await setEditor('Rule 1 target (when the rule applies)', "%request.resourceType = 'Observation' and (%request.interaction = 'read'");
    await page.getByRole('button', { name: 'Create' }).click();
    const inline = page.locator('.fhirpath-field').filter({ hasText: 'Rule 1 target' }).getByRole('alert');
    await inline.waitFor();
    expect(await inline.textContent()).toMatch(/FHIRPath syntax error/);
    await shot('03-policy-compile-error');
    await setEditor('Rule 1 target (when the rule applies)', "%request.resourceType = 'Observation'");
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${base}/admin/r/AccessPolicy/nurse-policy`);
    const policy = await t.api.get(`${t.base}/AccessPolicy/nurse-policy`).expect(200);
    expect(policy.body).toMatchObject({ engine: 'rule-engine', target: [{ link: { reference: 'Membership/m-nurse' } }], rule: [{ target: { expression: "%request.resourceType = 'Observation'" } }] });
  }, 120_000);

  it('the playground denies, then permits after the policy is edited', async () => {
    const evaluate = async (): Promise<string> => {
      await page.getByRole('link', { name: 'Policy playground' }).click();
      await pick('Principal', 'm-nurse', /Membership\/m-nurse/);
      await page.getByRole('textbox', { name: 'URL (relative to the FHIR base)' }).fill('Patient/p-curie');
      await page.getByRole('button', { name: 'Evaluate' }).click();
      return (await page.getByTestId('decision').textContent()) ?? '';
    };
    expect(await evaluate()).toBe('deny');
    expect(await page.getByTestId('evaluation').textContent()).toContain('AccessPolicy/nurse-policy');

    await page.goto(`${base}/admin/r/AccessPolicy/nurse-policy/edit`);
    await setEditor('Rule 1 target (when the rule applies)', "%request.resourceType = 'Patient'");
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved: version 2').waitFor();
    expect(await evaluate()).toBe('permit');
    expect(await page.getByTestId('evaluation').textContent()).toMatch(/rule\[0\].*permit/);
    // What the principal can see: each result of an administrator's search, judged for the principal.
    await page.getByRole('button', { name: 'Check visibility' }).click();
    await page.getByTestId('visibility').waitFor();
    expect(await page.getByTestId('visibility').getByRole('row', { name: /Patient\/p-curie/ }).textContent()).toContain('permit');
    await shot('04-playground');
  }, 120_000);

  it('searches and edits a Patient; a validation error is shown at the element', async () => {
    await page.getByRole('link', { name: 'Resources' }).click();
    await page.getByRole('textbox', { name: 'Filter resource types' }).fill('Patient');
    await page.getByRole('link', { name: 'Patient', exact: true }).click();
    await pick('Search parameter 1', 'family', /^family \(string\)$/);
    await page.getByRole('textbox', { name: 'Value 1' }).fill('Curie');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/\/admin\/r\/Patient\?.*family=Curie/);
    await page.getByRole('link', { name: 'p-curie' }).click();
    await page.getByRole('tab', { name: 'Edit' }).click();
    const json = JSON.stringify({ resourceType: 'Patient', id: 'p-curie', name: [{ family: 'Curie' }], birthDate: 'yesterday' }, null, 2);
    await setEditor('Patient JSON', json);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The server refused the change').waitFor();
    const marked = page.locator('.cm-lintRange-error');
    await marked.first().waitFor();
    expect(await marked.first().textContent()).toContain('birthDate');
    await shot('05-patient-validation');
    await setEditor('Patient JSON', json.replace('yesterday', '1867-11-07'));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved: version 2').waitFor();
    await page.getByRole('tab', { name: 'History' }).click();
    await page.getByTestId('diff').waitFor();
    expect(await page.getByTestId('diff').textContent()).toContain('+   "birthDate": "1867-11-07"');
    await shot('06-history-diff');
    // A refusal is shown as such.
    await page.goto(`${base}/admin/r/Patient/no-such-patient`);
    await page.getByText('Not found (404)').waitFor();
  }, 120_000);

  it('is usable with the keyboard and at phone width', async () => {
    await page.goto(`${base}/admin/`);
    await page.getByRole('heading', { name: 'Resources' }).waitFor();
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'Audit'; i++) {
      await page.keyboard.press('Tab');
      focused = String(await page.evaluate('document.activeElement && document.activeElement.textContent'));
    }
    expect(focused).toBe('Audit');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Audit' }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Toggle navigation' }).click();
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'User' }).waitFor();
    await shot('07-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 120_000);

  it('refreshes the access token silently before it expires', async () => {
    const before = tokenResponses.length;
    await page.waitForResponse((res) => res.url().endsWith('/api/v1/oauth/token') && res.request().postData()?.includes('grant_type=refresh_token') === true, { timeout: 60_000 });
    await page.getByRole('link', { name: 'Memberships' }).click();
    await page.getByRole('link', { name: 'm-nurse', exact: true }).waitFor();
    expect(tokenResponses.length).toBeGreaterThan(before);
    // A full page load signs in again (tokens live in memory only; the server's session answers at once).
    expect(grantTypes[0]).toBe('authorization_code 200');
    expect(grantTypes).toContain('refresh_token 200');
    expect(grantTypes.filter((g) => !/^(authorization_code|refresh_token) 200$/.test(g))).toEqual([]);
  }, 120_000);

  it('switches to another project, signing in there', async () => {
    await page.getByRole('button', { name: /switch project/ }).click();
    await page.getByRole('textbox', { name: 'Open project (tenant/project)' }).fill('acme/clinic');
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    // Each project is its own authorization server: a sign-in there.
    await page.getByLabel('Email').fill('clinic-owner@example.com');
    await page.getByLabel('Password').fill('clinic owner password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Resources' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/p/acme/clinic/');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(`${base}/admin/p/acme/clinic/r/User`);
    await page.getByRole('link', { name: 'clinic-owner', exact: true }).waitFor();
    expect(await page.getByRole('link', { name: 'nurse', exact: true }).count()).toBe(0);
    expect(await page.getByTestId('signed-in-user').textContent()).toBe('clinic-owner@example.com');
  }, 120_000);

  it('signs out: the grant is revoked', async () => {
    const refreshToken = String(tokenResponses[tokenResponses.length - 1]?.refresh_token);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/w/acme/clinic/api/v1/oauth/logout`);
    const res = await fetch(`${base}/w/acme/clinic/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'admin-app' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect(problems).toEqual([]);
  }, 120_000);
});
