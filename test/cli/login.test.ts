/**
 * `fhir-smart login|whoami|logout` against the real server: the browser login through the loopback redirect driven
 * by headless Chromium (the CLI prints the URL with --no-browser; Chromium signs in and allows access, and is sent
 * to the CLI's own listener), the profile file (0600 in a 0700 directory), whoami, automatic refresh before expiry
 * and after a 401, logout revoking the tokens, client_credentials logins, and their failures with exit codes.
 *
 * The browser part is skipped, with a printed reason, only when /usr/bin/chromium is missing and CI is not set.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { OWNER } from '../oauth/authorize-helpers';
import { ADMIN, cliUser, succeeded, type CliUser, ensureBuilt, startCliServer, type CliServer, BUILD_AND_START_MS } from './cli-helpers';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!available) console.log(`skipping the browser login tests: ${CHROMIUM} is missing (install it with: apt-get install chromium)`);
const describeBrowser = available ? describe : describe.skip;

let server: CliServer;
const users: CliUser[] = [];

function newUser(): CliUser {
  const user = cliUser({ FHIR_SMART_SERVER: server.base });
  users.push(user);
  return user;
}

beforeAll(async () => {
  ensureBuilt();
  server = await startCliServer();
}, BUILD_AND_START_MS);
afterAll(async () => {
  for (const user of users) user.remove();
  await server?.close();
});

/** Sets the access token lifetime of the CLI's public client (seconds). */
async function cliTokenLifetime(seconds: number | undefined): Promise<void> {
  const repo = new FhirRepository(server.t.storage.resources, server.t.boot.project.key);
  const current = (await repo.readCurrent('ClientApplication', 'fhir-smart-cli'))?.resource as Record<string, unknown>;
  const next = { ...current };
  delete next.meta;
  if (seconds === undefined) delete next.accessTokenLifetime;
  else next.accessTokenLifetime = seconds;
  await repo.update('ClientApplication', 'fhir-smart-cli', next as never);
}

describeBrowser('browser login through the loopback redirect', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await cliTokenLifetime(undefined);
  });

  /** Runs `login --no-browser`, signs in and answers the consent page in Chromium; returns the finished run. */
  async function browserLogin(user: CliUser, decision: 'Allow' | 'Deny', extra: string[] = []) {
    const run = user.start(['login', '--no-browser', ...extra]);
    const [url] = await run.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/w\/default\/default\/api\/v1\/oauth\/authorize\?\S+/);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Consent given before for these scopes is remembered: then the browser goes straight back to the CLI.
    const callback = /^http:\/\/127\.0\.0\.1:\d+\/cb\?/;
    const button = page.getByRole('button', { name: decision });
    await Promise.race([button.waitFor({ timeout: 30_000 }), page.waitForURL(callback, { timeout: 30_000 })]);
    if (!callback.test(page.url())) await button.click();
    // The CLI's listener answers the redirect; the browser lands on its page.
    await page.waitForURL(callback, { timeout: 30_000 });
    const landing = await page.getByRole('heading', { level: 1 }).textContent();
    await context.close();
    return { ...(await run.done), url, landing };
  }

  it('exits 1 when the user denies access in the browser', async () => {
    const user = newUser();
    const login = await browserLogin(user, 'Deny', ['--profile', 'denied']);
    expect(login.code).toBe(1);
    expect(login.landing).toBe('Sign-in failed');
    expect(login.stderr).toMatch(/authorization refused: access_denied/);
    expect(existsSync(user.profilesFile)).toBe(false);
  }, 120_000);

  it('signs in, keeps the tokens in a 0600 profile, and whoami names the user, scopes and project', async () => {
    const user = newUser();
    const login = await browserLogin(user, 'Allow');
    succeeded(login);
    expect(login.landing).toBe('Signed in');
    const authorize = new URL(login.url);
    expect(authorize.searchParams.get('client_id')).toBe('fhir-smart-cli');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cb$/);
    expect(login.stderr).toMatch(/Logged in to http:\/\/127\.0\.0\.1:\d+ default\/default as admin@example\.com/);

    expect(statSync(user.profilesFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(user.profilesFile)).mode & 0o777).toBe(0o700);
    const session = user.profiles().profiles.default?.sessions['default/default'];
    expect(session).toMatchObject({ grant: 'authorization_code', clientId: 'fhir-smart-cli', accessToken: expect.any(String), refreshToken: expect.any(String) });

    const who = await user.run(['whoami', '--json']);
    succeeded(who);
    expect(JSON.parse(who.stdout)).toMatchObject({
      subject: 'admin@example.com',
      tenant: 'default',
      project: 'default',
      client: 'fhir-smart-cli',
      scopes: expect.arrayContaining(['openid', 'user/*.*']),
      user: { sub: 'User/owner', email: 'admin@example.com' },
    });
    const read = await user.run(['api', 'read', 'r4', 'Patient', 'patient-ada']);
    succeeded(read);
    expect(JSON.parse(read.stdout)).toMatchObject({ resourceType: 'Patient', id: 'patient-ada' });

    // logout revokes: the old tokens stop working, and the profile forgets them.
    const { accessToken, refreshToken } = session as { accessToken: string; refreshToken: string };
    const logout = await user.run(['logout']);
    succeeded(logout);
    expect(logout.stderr).toMatch(/tokens revoked/);
    expect(user.profiles().profiles.default?.sessions).toEqual({});
    expect((await fetch(`${server.fhir}/Patient/patient-ada`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(401);
    const refreshed = await fetch(`${server.oauth}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'fhir-smart-cli' }),
    });
    expect(refreshed.status).toBe(400);
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' });
    const after = await user.run(['whoami']);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/not logged in to .* default\/default/);
    expect((await user.run(['logout'])).code).toBe(2);
  }, 120_000);

  it('refreshes the token before it expires and again after a 401', async () => {
    await cliTokenLifetime(5);
    const user = newUser();
    succeeded(await browserLogin(user, 'Allow'));
    const first = user.profiles().profiles.default?.sessions['default/default'] as { accessToken: string; refreshToken: string; expiresAt: number };
    expect(first.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(5);

    // Within the refresh margin: the CLI obtains new tokens before the request (the refresh token rotates).
    const read = await user.run(['api', 'read', 'r4', 'Patient', 'patient-ada']);
    succeeded(read);
    const second = user.profiles().profiles.default?.sessions['default/default'] as typeof first;
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);

    // Several commands at once, each due for a refresh: they refresh one at a time and a command that waited takes
    // the tokens another stored (spending a rotated refresh token twice would revoke the grant).
    const parallel = await Promise.all([1, 2, 3, 4].map(() => user.run(['api', 'read', 'r4', 'Patient', 'patient-ada'])));
    for (const run of parallel) succeeded(run);
    succeeded(await user.run(['api', 'read', 'r4', 'Patient', 'patient-alan']));

    // A token the server refuses although the profile believes it valid: 401, refresh, the request again.
    await cliTokenLifetime(3600);
    const file = user.profiles();
    const stored = file.profiles.default?.sessions['default/default'] as Record<string, unknown>;
    stored.accessToken = `${String(stored.accessToken).slice(0, -4)}AAAA`;
    stored.expiresAt = Math.floor(Date.now() / 1000) + 3600;
    writeFileSync(user.profilesFile, JSON.stringify(file));
    const again = await user.run(['api', 'search', 'r4', 'Patient', '_count=1']);
    succeeded(again);
    expect(JSON.parse(again.stdout)).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const third = user.profiles().profiles.default?.sessions['default/default'] as typeof first;
    expect(third.accessToken).not.toBe(stored.accessToken);
    expect(third.refreshToken).not.toBe(second.refreshToken);
    expect(third.expiresAt - Date.now() / 1000).toBeGreaterThan(3000);

    // A refresh token the server no longer honours: exit 1, told to log in again.
    const revoked = await fetch(`${server.oauth}/revoke`, { method: 'POST', body: new URLSearchParams({ token: third.refreshToken, client_id: 'fhir-smart-cli' }) });
    expect(revoked.status).toBe(200);
    const ended = await user.run(['api', 'read', 'r4', 'Patient', 'patient-ada']);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(/session has ended.*run fhir-smart login/);
  }, 120_000);

});

describe('client_credentials login', () => {
  it('logs in with a client id and secret (options or environment) into a named profile', async () => {
    const user = newUser();
    const login = await user.run(['login', '--client-credentials', '--profile', 'ci'], { env: { FHIR_SMART_CLIENT_ID: ADMIN.clientId, FHIR_SMART_CLIENT_SECRET: ADMIN.secret } });
    succeeded(login);
    expect(login.stderr).toMatch(/as admin-cli \(profile 'ci', scopes: system\/\*\.\*\)/);
    const file = user.profiles();
    expect(file.current).toBe('ci');
    expect(file.profiles.ci).toMatchObject({ server: server.base, tenant: 'default', project: 'default' });
    const who = await user.run(['whoami']);
    succeeded(who);
    expect(who.stdout).toMatch(/Logged in to .* as admin-cli/);
    expect(who.stdout).toMatch(/scopes: +system\/\*\.\*/);
    expect(who.stdout).toMatch(/project: +default\/default \(profile 'ci'\)/);
    // A client_credentials session is renewed with the stored secret once the token is refused.
    const stored = file.profiles.ci?.sessions['default/default'] as Record<string, unknown>;
    stored.accessToken = 'not-a-token';
    writeFileSync(user.profilesFile, JSON.stringify(file));
    succeeded(await user.run(['api', 'read', 'r4', 'Patient', 'patient-ada']));
    succeeded(await user.run(['logout', '--profile', 'ci']));
  }, 60_000);

  it('refuses a wrong secret (1), missing credentials (2), an unreachable server (3) and an unknown profile (2)', async () => {
    const user = newUser();
    const wrong = await user.run(['login', '--client-credentials', '--client-id', ADMIN.clientId, '--client-secret', 'wrong-secret-wrong-secret']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/token request refused: HTTP 401: invalid_client/);
    expect(existsSync(user.profilesFile)).toBe(false);
    const missing = await user.run(['login', '--client-credentials', '--client-id', ADMIN.clientId]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--client-credentials needs --client-id and --client-secret/);
    const unreachable = await user.run(['login', '--client-credentials', '--client-id', 'a', '--client-secret', 'b'], { env: { FHIR_SMART_SERVER: 'http://127.0.0.1:9' } });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
    const unknown = await user.run(['whoami', '--profile', 'nope'], { env: { FHIR_SMART_SERVER: undefined } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no profile 'nope'/);
    const badPort = await user.run(['login', '--port', 'x']);
    expect(badPort.code).toBe(2);
  }, 60_000);
});
