/**
 * The sign-in page with IdentityProviders: a button (a plain link) per active provider, escaped; the email-first
 * step only when a provider serves email domains; the page's CSP allowing the providers' authorization origins as
 * form targets and the logos as images; a User restricted to federated sign-in (`passwordLogin: false`) refused
 * exactly like a wrong password; a provider required for a domain refusing passwords for it; and the sign-in rate
 * limit applied to federated failures.
 */
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { authorizeQuery, Browser, OAUTH, pkce, putClient, putUser, scrapeForm, validParams } from '../oauth/authorize-helpers';
import { putProvider } from './federation-helpers';
import { ScriptedProvider } from './upstream/scripted-provider';

let t: TestApp;
const upstream = new ScriptedProvider();

beforeAll(async () => {
  await upstream.start();
  t = await buildTestApp({ ALLOW_HTTP_JWKS_URI: 'loopback', LOGIN_MAX_FAILURES: '3' });
  await putClient(t, 'app');
});
afterAll(async () => {
  await t.close();
  await upstream.stop();
});

async function loginPage(browser = new Browser(t.app)): Promise<{ browser: Browser; page: Awaited<ReturnType<Browser['get']>>; interaction: string }> {
  const res = await browser.get(authorizeQuery(validParams(pkce().challenge)));
  const interaction = new URL(String(res.headers.location), 'https://x').searchParams.get('interaction') ?? '';
  return { browser, page: await browser.follow(res), interaction };
}

describe('without providers', () => {
  it('shows the password form only', async () => {
    const { page } = await loginPage();
    expect(page.text).not.toContain('class="providers"');
    expect(page.text).toContain('name="password"');
  });
});

describe('with providers', () => {
  beforeAll(async () => {
    await putProvider(t, 'a-idp', {
      name: 'A <IdP>',
      issuer: upstream.issuer,
      clientId: upstream.clientId,
      clientSecret: upstream.clientSecret,
      emailDomains: ['a.example'],
      requiredForEmailDomains: true,
      button: { label: 'Sign in with "A" <b>now</b>', logoUri: 'https://cdn.a.example/logo.png' },
    });
    await putProvider(t, 'b-idp', { name: 'B', issuer: 'https://b-idp.example', authorizationEndpoint: 'https://login.b-idp.example/authorize', tokenEndpoint: 'https://login.b-idp.example/token', jwksUri: 'https://login.b-idp.example/keys', clientId: 'x', clientSecret: 'y' });
    await putProvider(t, 'off-idp', { name: 'Off', status: 'off', issuer: upstream.issuer, clientId: 'x', clientSecret: 'y' });
  });

  it('shows a link per active provider (escaped) and the email-first step', async () => {
    const { page, interaction } = await loginPage();
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<a class="button" href="${OAUTH}/federated/start?interaction=${interaction}&amp;provider=a-idp"><img src="https://cdn.a.example/logo.png" alt="" width="20" height="20"> Sign in with &quot;A&quot; &lt;b&gt;now&lt;/b&gt;</a>`);
    expect(page.text).toContain(`provider=b-idp">Sign in with B</a>`);
    expect(page.text).not.toContain('off-idp');
    expect(page.text).not.toContain('name="password"');
    expect(page.text).toContain('<input type="hidden" name="step" value="email">');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain(`form-action 'self' https://app.example ${upstream.issuer}`);
    expect(csp).toContain('img-src https://cdn.a.example');
  });

  it('refuses passwords for a domain whose provider is required, without checking them', async () => {
    const { browser, page } = await loginPage();
    const { action, fields } = scrapeForm(page.text);
    const before = t.logLines.length;
    const res = await browser.post(action, { ...fields, step: '', email: 'someone@a.example', password: 'whatever' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('Accounts of a.example sign in with A &lt;IdP&gt;.');
    expect(t.logLines.slice(before).some((l) => l.event === 'login_failed')).toBe(false);
  });

  it('refuses the right password of a User with passwordLogin false exactly like a wrong one', async () => {
    const restricted = await putUser(t, 'federated-only', { passwordLogin: false });
    const answers: Array<{ status: number; text: string }> = [];
    for (const password of [restricted.password, 'wrong password']) {
      const { browser, page } = await loginPage();
      const { action, fields } = scrapeForm(page.text);
      const email = await browser.post(action, { ...fields, email: restricted.email });
      expect(email.status).toBe(200);
      const second = scrapeForm(email.text);
      const res = await browser.post(second.action, { ...second.fields, email: restricted.email, password });
      // Only the per-interaction tokens differ (hidden fields and the buttons' links).
      answers.push({ status: res.status, text: res.text.replace(/value="[A-Za-z0-9_-]{20,}"/g, 'value=""').replace(/interaction=[A-Za-z0-9_-]{20,}/g, 'interaction=') });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.status).toBe(401);
    expect(t.logLines.some((l) => l.event === 'login_failed' && l.reason === 'federated_only' && l.userId === 'federated-only')).toBe(true);
  });
});

describe('sign-in rate limit', () => {
  it('counts federated failures against the IP: over the limit, 429 with Retry-After', async () => {
    const limited = await buildTestApp({ ALLOW_HTTP_JWKS_URI: 'loopback', LOGIN_MAX_FAILURES: '3' });
    await putClient(limited, 'app');
    await putProvider(limited, 'a-idp', { name: 'A', issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret });
    const browser = new Browser(limited.app);
    const res = await browser.get(authorizeQuery(validParams(pkce().challenge)));
    const interaction = new URL(String(res.headers.location), 'https://x').searchParams.get('interaction') ?? '';
    for (let i = 0; i < 3; i++) {
      const res = await browser.get(`${OAUTH}/federated/callback?state=forged-${i}&code=c`);
      expect(res.status).toBe(400);
    }
    const blocked = await browser.get(`${OAUTH}/federated/start?interaction=${interaction}&provider=a-idp`);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.headers.location).toBeUndefined();
    const callback = await browser.get(`${OAUTH}/federated/callback?state=x&code=c`);
    expect(callback.status).toBe(429);
    await limited.close();
  });
});
