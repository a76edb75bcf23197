/**
 * Sessions, prompt and consent around the authorization endpoint: prompt=none (login_required,
 * consent_required, silent success), prompt=login, max_age, remembered consent (asked again when the scope set
 * grows), consentRequired=false, and Deny → access_denied.
 */
import { interactionCookie } from '../../src/oauth/interaction/cookies';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import {
  authorizeQuery,
  Browser,
  ISSUER,
  OAUTH,
  pkce,
  putClient,
  putUser,
  redirectParams,
  submitConsent,
  submitLogin,
  validParams,
} from './authorize-helpers';

let t: TestApp;
let alice: { email: string; password: string };
const { challenge } = pkce();

beforeAll(async () => {
  t = await buildTestApp();
  await putClient(t, 'app');
  await putClient(t, 'trusted', { consentRequired: false });
  alice = await putUser(t, 'alice');
});
afterAll(async () => t.close());

let users = 0;

/** A browser that signed in as a new user and allowed `scope` for client `app`. */
async function signedInBrowser(scope = 'openid patient/Observation.rs'): Promise<Browser> {
  users += 1;
  const user = await putUser(t, `user-${users}`);
  const browser = new Browser(t.app);
  const start = await browser.get(authorizeQuery(validParams(challenge, { scope })));
  const consent = await submitLogin(browser, start, user);
  expect(consent.headers.location).toMatch(/\/consent\?interaction=/);
  expect(redirectParams(await submitConsent(browser, consent, 'allow')).code).toBeDefined();
  browser.user = user;
  return browser;
}

describe('prompt=none', () => {
  it('answers login_required without a session', async () => {
    const res = await new Browser(t.app).get(authorizeQuery(validParams(challenge, { prompt: 'none' })));
    expect(redirectParams(res)).toEqual({ error: 'login_required', error_description: 'The user is not signed in', state: 'st-1', iss: ISSUER });
  });

  it('answers consent_required when the scopes were never allowed', async () => {
    const browser = await signedInBrowser('openid');
    const res = await browser.get(authorizeQuery(validParams(challenge, { prompt: 'none', scope: 'openid patient/Patient.rs' })));
    expect(redirectParams(res)).toEqual({
      error: 'consent_required',
      error_description: 'The user has not allowed the requested scopes for this client',
      state: 'st-1',
      iss: ISSUER,
    });
  });

  it('returns a code at once with a session and consent on record', async () => {
    const browser = await signedInBrowser();
    const res = await browser.get(authorizeQuery(validParams(challenge, { prompt: 'none', state: 'silent' })));
    expect(redirectParams(res)).toEqual({ code: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/), state: 'silent', iss: ISSUER });
  });

  it('answers login_required when max_age has passed', async () => {
    const browser = await signedInBrowser();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const res = await browser.get(authorizeQuery(validParams(challenge, { prompt: 'none', max_age: '0' })));
    expect(redirectParams(res).error).toBe('login_required');
  });
});

describe('sessions', () => {
  it('skips the login page for a signed-in user with consent on record', async () => {
    const browser = await signedInBrowser();
    const res = await browser.get(authorizeQuery(validParams(challenge, { state: 'again' })));
    expect(redirectParams(res)).toMatchObject({ state: 'again', iss: ISSUER, code: expect.any(String) });
  });

  it('asks for the password again with prompt=login', async () => {
    const browser = await signedInBrowser();
    const res = await browser.get(authorizeQuery(validParams(challenge, { prompt: 'login' })));
    expect(res.headers.location).toMatch(/\/login\?interaction=/);
    const done = await submitLogin(browser, res, browser.user as { email: string; password: string });
    expect(redirectParams(done)).toMatchObject({ code: expect.any(String), state: 'st-1' });
  });

  it('asks for consent again with prompt=consent', async () => {
    const browser = await signedInBrowser();
    const res = await browser.get(authorizeQuery(validParams(challenge, { prompt: 'consent' })));
    expect(res.headers.location).toMatch(/\/consent\?interaction=/);
  });
});

describe('consent', () => {
  it('is remembered per user and client', async () => {
    const browser = await signedInBrowser('openid patient/Observation.rs');
    const narrower = await browser.get(authorizeQuery(validParams(challenge, { scope: 'patient/Observation.rs' })));
    expect(redirectParams(narrower).code).toBeDefined();
  });

  it('is asked again when the scope set grows, and shows only the granted scopes', async () => {
    const browser = await signedInBrowser('openid');
    const res = await browser.get(authorizeQuery(validParams(challenge, { scope: 'openid patient/Observation.rs system/*.*' })));
    expect(res.headers.location).toMatch(/\/consent\?interaction=/);
    const page = await browser.follow(res);
    expect(page.status).toBe(200);
    expect(page.text).toContain(
      '<ul class="scopes"><li><input type="checkbox" id="scope-1" name="scope" value="patient/Observation.rs" checked> ' +
        '<label for="scope-1">Read and search your Observation records <code>patient/Observation.rs</code></label></li></ul>',
    );
    expect(page.text).toContain(
      '<ul class="scopes"><li><input type="checkbox" id="fixed-1" checked disabled> <label for="fixed-1">Confirm your identity <code>openid</code></label></li></ul>',
    );
    expect(page.text).not.toContain('system/*.*');
    expect(page.text).toMatch(/Signed in as user-\d+@example.org\./);
    expect(page.text).toContain('<strong>App app</strong> wants to:');
    expect(page.text).toMatch(/<button type="submit" name="decision" value="allow">Allow<\/button>/);
    expect(page.text).toMatch(/<button type="submit" name="decision" value="deny" class="secondary">Deny<\/button>/);
    expect(page.headers['content-security-policy']).toContain("form-action 'self' https://app.example;");
  });

  it('is skipped for a client with consentRequired=false', async () => {
    const browser = new Browser(t.app);
    const start = await browser.get(authorizeQuery(validParams(challenge, { client_id: 'trusted' })));
    const res = await submitLogin(browser, start, alice);
    expect(redirectParams(res)).toEqual({ code: expect.any(String), state: 'st-1', iss: ISSUER });
  });

  it('Deny redirects with access_denied, state and iss', async () => {
    const browser = new Browser(t.app);
    const start = await browser.get(authorizeQuery(validParams(challenge, { state: 'deny-me', scope: 'openid offline_access' })));
    const consent = await submitLogin(browser, start, alice);
    const res = await submitConsent(browser, consent, 'deny');
    expect(res.status).toBe(303);
    expect(redirectParams(res)).toEqual({ error: 'access_denied', error_description: 'The user denied the request', state: 'deny-me', iss: ISSUER });
    expect([...browser.cookies.keys()].filter((name) => name.startsWith('fhir_interaction_'))).toEqual([]);
  });

  it('keeps two interactions of one browser apart (two tabs)', async () => {
    const user = await putUser(t, 'two-tabs');
    const browser = new Browser(t.app);
    const tab1 = await browser.follow(await browser.get(authorizeQuery(validParams(challenge, { state: 'tab-1' }))));
    const tab2 = await browser.follow(await browser.get(authorizeQuery(validParams(challenge, { state: 'tab-2', client_id: 'trusted' }))));
    const done2 = await submitLogin(browser, tab2, user);
    expect(redirectParams(done2)).toMatchObject({ state: 'tab-2', code: expect.any(String) });
    const consent1 = await submitLogin(browser, tab1, user);
    expect(redirectParams(await submitConsent(browser, consent1, 'allow'))).toMatchObject({ state: 'tab-1', code: expect.any(String) });
  });

  it('completes an interaction only once', async () => {
    const browser = new Browser(t.app);
    const start = await browser.get(authorizeQuery(validParams(challenge, { scope: 'patient/Patient.rs' })));
    const consent = await submitLogin(browser, start, alice);
    const page = await browser.follow(consent);
    const form = /name="interaction" value="([^"]+)"[\s\S]*name="csrf" value="([^"]+)"/.exec(page.text);
    const fields = { interaction: form?.[1], csrf: form?.[2], scope: 'patient/Patient.rs', decision: 'allow' };
    const cookie = browser.cookieHeader();
    expect(redirectParams(await browser.post(`${OAUTH}/consent`, fields)).code).toBeDefined();
    browser.cookies.set(interactionCookie(String(form?.[1])), { value: String(form?.[1]), attributes: '' });
    const again = await browser.post(`${OAUTH}/consent`, fields);
    expect(again.status).toBe(400);
    expect(again.text).toContain('This sign-in request has expired');
    expect(cookie).toContain('fhir_session=');
  });
});
