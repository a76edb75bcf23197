/**
 * The login page: markup and headers, credentials (wrong password, unknown email, inactive user, inactive
 * membership), CSRF and browser binding, the session cookie and logout (rate limiting: login-rate-limit.test.ts).
 */
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import * as hashing from '../../src/security/hashing';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import {
  authorizeQuery,
  Browser,
  OAUTH,
  OWNER,
  pkce,
  putClient,
  putUser,
  redirectParams,
  scrapeForm,
  submitConsent,
  submitLogin,
  validParams,
} from './authorize-helpers';

let t: TestApp;
const { challenge } = pkce();

beforeAll(async () => {
  // Every failed sign-in counts against the (shared) test IP; the limit itself is tested in login-rate-limit.
  t = await buildTestApp({ LOGIN_MAX_FAILURES: '100' });
  await putClient(t, 'app');
  await putClient(t, 'evil', { name: '<img src=x onerror=alert(1)>' });
});
afterAll(async () => t.close());

async function openLogin(clientId = 'app'): Promise<{ browser: Browser; page: request.Response }> {
  const browser = new Browser(t.app);
  const start = await browser.get(authorizeQuery(validParams(challenge, { client_id: clientId })));
  return { browser, page: await browser.follow(start) };
}

describe('the login page', () => {
  it('is an accessible form with labels, CSRF token and strict headers', async () => {
    const { page } = await openLogin();
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[^']+'; form-action 'self' https:\/\/app\.example; frame-ancestors 'none'; base-uri 'none'$/);
    expect(page.text).toContain('<label for="email">Email</label>');
    expect(page.text).toContain('<input id="email" name="email" type="email" autocomplete="username" required value="">');
    expect(page.text).toContain('<label for="password">Password</label>');
    expect(page.text).toContain('<button type="submit">Sign in</button>');
    expect(page.text).not.toContain('<script');
    const { action, fields } = scrapeForm(page.text);
    expect(action).toBe(`${OAUTH}/login`);
    expect(fields).toEqual({ interaction: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  });

  it('escapes the client name', async () => {
    const { page } = await openLogin('evil');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<strong>&lt;img src=x onerror=alert(1)&gt;</strong>');
    expect(page.text).not.toContain('<img');
  });

  it('pre-fills login_hint, escaped', async () => {
    const browser = new Browser(t.app);
    const start = await browser.get(authorizeQuery(validParams(challenge, { login_hint: 'a"><b>@example.org' })));
    const page = await browser.follow(start);
    expect(page.text).toContain('value="a&quot;&gt;&lt;b&gt;@example.org"');
  });

  it('refuses to show an interaction without this browser\'s interaction cookie', async () => {
    const { browser, page } = await openLogin();
    const { fields } = scrapeForm(page.text);
    const stranger = await request(t.app).get(`${OAUTH}/login?interaction=${fields.interaction}`);
    expect(stranger.status).toBe(400);
    expect(stranger.text).toContain('This sign-in request has expired');
    const unknown = await browser.get(`${OAUTH}/login?interaction=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    expect(unknown.status).toBe(400);
  });
});

describe('signing in', () => {
  it('starts a session with a HttpOnly, SameSite=Lax, Secure cookie scoped to the OAuth path', async () => {
    const alice = await putUser(t, 'alice');
    const { browser, page } = await openLogin();
    const res = await submitLogin(browser, page, alice);
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));
    expect(browser.cookies.get('fhir_session')).toEqual({
      value: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      attributes: `Path=${OAUTH}; Max-Age=28800; HttpOnly; SameSite=Lax; Secure`,
    });
    const stored = await t.storage.records.find('session', {});
    expect(stored.some((r) => r.key.endsWith(browser.cookies.get('fhir_session')?.value ?? '-'))).toBe(false);
  });

  it('accepts the bootstrap owner', async () => {
    const { browser, page } = await openLogin();
    const consent = await submitLogin(browser, page, OWNER);
    expect(redirectParams(await submitConsent(browser, consent, 'allow')).code).toBeDefined();
  });

  it('rejects a wrong password and an unknown email with the same message', async () => {
    const bob = await putUser(t, 'bob');
    for (const credentials of [{ ...bob, password: 'wrong-password-xyz' }, { email: 'nobody@example.org', password: 'x' }]) {
      const { browser, page } = await openLogin();
      const res = await submitLogin(browser, page, credentials);
      expect(res.status).toBe(401);
      expect(res.text).toContain('<p class="error" role="alert" id="login-error">The email or password is incorrect.</p>');
      expect(browser.cookies.has('fhir_session')).toBe(false);
      expect(scrapeForm(res.text).fields.csrf).toBe(scrapeForm(page.text).fields.csrf);
    }
    const logged = JSON.stringify(t.logLines);
    expect(t.logLines.filter((line) => line.event === 'login_failed')).toHaveLength(2);
    expect(logged).not.toContain(bob.email);
    expect(logged).not.toContain('nobody@example.org');
    expect(logged).not.toContain('wrong-password-xyz');
  });

  it('answers an inactive user and an inactive membership exactly as a wrong password, and logs the difference', async () => {
    // One account each, so the two answers carry the same email: first a wrong password while it is active, then
    // the right password once it (or its only membership) is deactivated.
    for (const [id, deactivate] of [['carol', 'User'], ['dave', 'Membership']] as const) {
      const account = await putUser(t, id);
      const wrong = await openLogin();
      const wrongRes = await submitLogin(wrong.browser, wrong.page, { ...account, password: 'wrong-password-xyz' });
      const r = new FhirRepository(t.storage.resources, t.boot.project.key);
      await r.patch(deactivate, id, [{ op: 'replace', path: '/active', value: false }]);
      const logged = t.logLines.length;
      const inactive = await openLogin();
      const inactiveRes = await submitLogin(inactive.browser, inactive.page, account);

      expect(inactiveRes.status).toBe(401);
      expect(inactive.browser.cookies.has('fhir_session')).toBe(false);
      expect(inactiveRes.text).toContain('The email or password is incorrect.');
      expect(inactiveRes.text).not.toMatch(/not active|inactive|deactivated|administrator/i);
      // Byte-identical once the per-interaction tokens are blanked; the same headers too.
      const blank = (res: request.Response, page: request.Response) => {
        const { fields } = scrapeForm(page.text);
        return res.text.split(fields.interaction as string).join('<interaction>').split(fields.csrf as string).join('<csrf>');
      };
      expect(blank(inactiveRes, inactive.page)).toBe(blank(wrongRes, wrong.page));
      const headers = (res: request.Response) => {
        const { date: _date, 'x-request-id': _id, ...rest } = res.headers;
        return rest;
      };
      expect({ status: inactiveRes.status, headers: headers(inactiveRes) }).toEqual({ status: wrongRes.status, headers: headers(wrongRes) });

      // The operator sees it: login_failed, reason inactive, the User id, never the password or the email.
      const lines = t.logLines.slice(logged).filter((line) => line.event === 'login_failed');
      expect(lines).toEqual([expect.objectContaining({ event: 'login_failed', reason: 'inactive', userId: id, inactive: deactivate === 'User' ? 'user' : 'membership' })]);
      expect(JSON.stringify(lines)).not.toContain(account.password);
      expect(JSON.stringify(lines)).not.toContain(account.email);
    }
  });

  it('verifies one password hash per attempt whatever the outcome (unknown or empty email, wrong password, inactive account)', async () => {
    const kate = await putUser(t, 'kate');
    const liam = await putUser(t, 'liam', { active: false });
    const mona = await putUser(t, 'mona', {}, { active: false });
    const spy = jest.spyOn(hashing, 'verifyPassword');
    try {
      for (const credentials of [
        { email: 'nobody@example.org', password: 'x' },
        { email: '', password: 'x' },
        { email: kate.email, password: '' },
        { ...kate, password: 'wrong-password-xyz' },
        liam,
        mona,
      ]) {
        spy.mockClear();
        const { browser, page } = await openLogin();
        const res = await submitLogin(browser, page, credentials);
        expect({ email: credentials.email, status: res.status, hashes: spy.mock.calls.length }).toEqual({ email: credentials.email, status: 401, hashes: 1 });
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('ends a session whose user was deactivated', async () => {
    const erin = await putUser(t, 'erin');
    const { browser, page } = await openLogin();
    const consent = await submitLogin(browser, page, erin);
    await new FhirRepository(t.storage.resources, t.boot.project.key).patch('User', 'erin', [{ op: 'replace', path: '/active', value: false }]);
    const res = await browser.follow(consent);
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/\/login\?interaction=/);
  });
});

describe('CSRF', () => {
  it('answers 403 when the csrf field is missing or wrong', async () => {
    const frank = await putUser(t, 'frank');
    for (const csrf of [undefined, 'forged', '']) {
      const { browser, page } = await openLogin();
      const { action, fields } = scrapeForm(page.text);
      const res = await browser.post(action, { ...fields, csrf, email: frank.email, password: frank.password });
      expect(res.status).toBe(403);
      expect(res.text).toContain('This form could not be verified');
      expect(browser.cookies.has('fhir_session')).toBe(false);
    }
  });

  it('answers 403 to a post from a browser without the interaction cookie', async () => {
    const frank = await putUser(t, 'frank');
    const { page } = await openLogin();
    const { action, fields } = scrapeForm(page.text);
    const res = await new Browser(t.app).post(action, { ...fields, email: frank.email, password: frank.password });
    expect(res.status).toBe(403);
  });

  it('answers 403 on the consent form too', async () => {
    const gina = await putUser(t, 'gina');
    const { browser, page } = await openLogin();
    const consent = await browser.follow(await submitLogin(browser, page, gina));
    const { action, fields } = scrapeForm(consent.text);
    const res = await browser.post(action, { ...fields, csrf: 'forged', decision: 'allow' });
    expect(res.status).toBe(403);
    expect(res.headers.location).toBeUndefined();
  });
});

describe('logout', () => {
  it('shows a confirmation form, then ends the session', async () => {
    const ivy = await putUser(t, 'ivy');
    const { browser, page } = await openLogin();
    await submitLogin(browser, page, ivy);
    const confirm = await browser.get(`${OAUTH}/logout`);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('You are signed in as ivy@example.org.');
    expect(confirm.text).toContain('<button type="submit">Sign out</button>');
    const { action, fields } = scrapeForm(confirm.text);
    expect(action).toBe(`${OAUTH}/logout`);
    expect((await browser.post(action, { csrf: 'forged' })).status).toBe(403);
    const done = await browser.post(action, fields);
    expect(done.status).toBe(200);
    expect(done.text).toContain('You are signed out');
    expect(browser.cookies.has('fhir_session')).toBe(false);
    const res = await browser.get(authorizeQuery(validParams(challenge, { prompt: 'none' })));
    expect(redirectParams(res).error).toBe('login_required');
  });

  it('shows "signed out" without a session', async () => {
    const res = await request(t.app).get(`${OAUTH}/logout`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('You are signed out');
  });
});
