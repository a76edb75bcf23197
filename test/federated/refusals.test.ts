/**
 * Every refusal of the federated sign-in, over HTTP against the real app, with a scripted upstream provider on a
 * loopback port (upstream/scripted-provider.ts) that signs id_tokens as each case needs: an unknown or inactive
 * provider, a state that is unknown, already used or from another browser, an upstream error, a wrong issuer in the
 * authorization response, an id_token signed with a key the provider never published or with a symmetric algorithm,
 * a nonce replayed from an earlier sign-in, an unverified email, an email outside the provider's domains, and no
 * matching user with auto-provisioning off. Each is an HTML page (never a redirect: no open redirect), a
 * `login_failed` log line, and nothing signed in. Also: matching by `sub`, and the success path's tokens.
 */
import { decodeJwt } from 'jose';
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { authorizeQuery, Browser, OAUTH, pkce, putClient, putUser, REDIRECT, redirectParams, submitConsent, validParams } from '../oauth/authorize-helpers';
import { putProvider } from './federation-helpers';
import { ScriptedProvider } from './upstream/scripted-provider';

let t: TestApp;
const upstream = new ScriptedProvider();

beforeAll(async () => {
  await upstream.start();
  t = await buildTestApp({ ALLOW_HTTP_JWKS_URI: 'loopback', LOGIN_MAX_FAILURES: '1000' });
  await putClient(t, 'app');
  await putProvider(t, 'rogue', {
    name: 'Scripted IdP',
    issuer: upstream.issuer,
    clientId: upstream.clientId,
    clientSecret: upstream.clientSecret,
    emailDomains: ['partner.example'],
  });
  await putProvider(t, 'by-sub', { name: 'Sub IdP', issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, userMatching: 'sub' });
  await putProvider(t, 'switched-off', { name: 'Off IdP', status: 'off', issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret });
  await putUser(t, 'partner', { email: 'member@partner.example' });
});
afterAll(async () => {
  await t.close();
  await upstream.stop();
});

interface Started {
  browser: Browser;
  interaction: string;
  state: string;
  nonce: string;
  challenge: string;
  authorizeUrl: URL;
  /** The PKCE verifier of the client's request to this server. */
  clientVerifier: string;
}

/** Starts an authorization request of client `app` and sends the browser to a provider. */
async function start(provider = 'rogue', browser = new Browser(t.app)): Promise<Started> {
  const clientPkce = pkce();
  const res = await browser.get(authorizeQuery(validParams(clientPkce.challenge)));
  expect(res.status).toBe(303);
  const interaction = new URL(String(res.headers.location), 'https://x').searchParams.get('interaction') ?? '';
  const go = await browser.get(`${OAUTH}/federated/start?${new URLSearchParams({ interaction, provider })}`);
  expect(go.status).toBe(303);
  const authorizeUrl = new URL(String(go.headers.location));
  const params = authorizeUrl.searchParams;
  return {
    browser,
    interaction,
    state: params.get('state') ?? '',
    nonce: params.get('nonce') ?? '',
    challenge: params.get('code_challenge') ?? '',
    authorizeUrl,
    clientVerifier: clientPkce.verifier,
  };
}

function callback(browser: Browser, query: Record<string, string>): Promise<request.Response> {
  return browser.get(`${OAUTH}/federated/callback?${new URLSearchParams(query)}`);
}

afterEach(() => {
  // No refusal of this file may come from the token endpoint rejecting this server's client authentication.
  const failures = t.logLines.filter((l) => l.event === 'login_failed');
  expect(failures.filter((l) => JSON.stringify(l.cause ?? {}).includes('invalid_client'))).toEqual([]);
});

function lastFailure(): Record<string, unknown> | undefined {
  return [...t.logLines].reverse().find((l) => l.event === 'login_failed');
}

function expectRefusalPage(res: request.Response, status: number, title: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers.location).toBeUndefined();
  expect(res.text).toContain(`<h1>${title}</h1>`);
  expect(res.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/^fhir_session=[^;]/)]));
}

describe('the authorization request to the provider', () => {
  it('carries state, nonce, PKCE S256, the registered callback and the scopes', async () => {
    const { authorizeUrl } = await start();
    expect(`${authorizeUrl.origin}${authorizeUrl.pathname}`).toBe(`${upstream.issuer}/authorize`);
    expect(Object.fromEntries(authorizeUrl.searchParams)).toEqual({
      response_type: 'code',
      client_id: upstream.clientId,
      redirect_uri: 'https://fhir.example.test/w/default/default/api/v1/oauth/federated/callback',
      scope: 'openid email profile',
      state: expect.stringMatching(/^[A-Za-z0-9_-]{22,}$/),
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22,}$/),
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
    });
  });
});

describe('refusals', () => {
  it('an unknown provider', async () => {
    const browser = new Browser(t.app);
    const res = await browser.get(authorizeQuery(validParams(pkce().challenge)));
    const interaction = new URL(String(res.headers.location), 'https://x').searchParams.get('interaction') ?? '';
    for (const provider of ['nope', 'https://evil.example/authorize', '']) {
      const go = await browser.get(`${OAUTH}/federated/start?${new URLSearchParams({ interaction, provider })}`);
      expectRefusalPage(go, 400, 'This sign-in option is not available');
    }
    expect(lastFailure()).toMatchObject({ reason: 'provider_unknown' });
  });

  it('an inactive provider, at the start and when switched off before the callback', async () => {
    const browser = new Browser(t.app);
    const res = await browser.get(authorizeQuery(validParams(pkce().challenge)));
    const interaction = new URL(String(res.headers.location), 'https://x').searchParams.get('interaction') ?? '';
    const go = await browser.get(`${OAUTH}/federated/start?${new URLSearchParams({ interaction, provider: 'switched-off' })}`);
    expectRefusalPage(go, 400, 'This sign-in option is not available');
    expect(lastFailure()).toMatchObject({ reason: 'provider_inactive' });

    await putProvider(t, 'short-lived', { name: 'Short', issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret });
    const flow = await start('short-lived');
    await putProvider(t, 'short-lived', { name: 'Short', status: 'off', issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret });
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'x', nonce: flow.nonce, email: 'member@partner.example', email_verified: true } });
    expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 400, 'This sign-in option is not available');
    expect(upstream.tokenRequests.find((r) => r.code === code)).toBeUndefined();
  });

  it('a state that is unknown, missing, already used, or from another browser', async () => {
    const flow = await start();
    expectRefusalPage(await callback(flow.browser, { code: 'c', state: 'not-the-state' }), 400, 'This sign-in response is not valid');
    expect(lastFailure()).toMatchObject({ reason: 'state_mismatch' });
    expectRefusalPage(await callback(flow.browser, { code: 'c' }), 400, 'This sign-in response is not valid');

    // Another browser (no interaction cookie) presenting a genuine state: refused, and the state is spent.
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'member', nonce: flow.nonce, email: 'member@partner.example', email_verified: true } });
    const stranger = new Browser(t.app);
    expectRefusalPage(await callback(stranger, { code, state: flow.state }), 400, 'This sign-in request has expired');
    expect(lastFailure()).toMatchObject({ reason: 'state_browser' });
    expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 400, 'This sign-in response is not valid');
    expect(upstream.tokenRequests.find((r) => r.code === code)).toBeUndefined();
  });

  it('an error from the provider: access_denied is a 403 page, and its description is not echoed', async () => {
    const flow = await start();
    const res = await callback(flow.browser, { error: 'access_denied', error_description: '<script>alert(1)</script> call +1-555-PHISH', state: flow.state });
    expectRefusalPage(res, 403, 'Sign-in was cancelled');
    expect(res.text).toContain('<code>access_denied</code>');
    expect(res.text).not.toContain('PHISH');
    expect(lastFailure()).toMatchObject({ reason: 'upstream_error', provider: 'rogue' });
    const other = await start();
    expectRefusalPage(await callback(other.browser, { error: 'server_error', state: other.state }), 400, 'The identity provider did not sign you in');
  });

  it('an authorization response naming another issuer (mix-up)', async () => {
    const flow = await start();
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'member', nonce: flow.nonce, email: 'member@partner.example', email_verified: true } });
    expectRefusalPage(await callback(flow.browser, { code, state: flow.state, iss: 'https://other-idp.example' }), 400, 'The sign-in could not be verified');
    expect(lastFailure()).toMatchObject({ reason: 'upstream_response', cause: { detail: expect.stringMatching(/"iss"/) } });
  });

  it('an id_token signed with a key the provider never published', async () => {
    const flow = await start();
    const code = upstream.issue({ challenge: flow.challenge, key: 'wrong', claims: { sub: 'not-yet-linked', nonce: flow.nonce, email: 'member@partner.example', email_verified: true } });
    expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 400, 'The sign-in could not be verified');
    expect(lastFailure()).toMatchObject({ reason: 'upstream_response', provider: 'rogue', cause: { detail: 'JWT signature verification failed' } });
    // The code was redeemed with PKCE: the refusal is the id_token's.
    expect(upstream.tokenRequests.find((r) => r.code === code)).toMatchObject({ grant_type: 'authorization_code', code_verifier: expect.any(String) });
  });

  it('an id_token signed with HS256 (an algorithm the IdentityProvider does not allow)', async () => {
    const flow = await start();
    const code = upstream.issue({ challenge: flow.challenge, alg: 'HS256', claims: { sub: 'not-yet-linked', nonce: flow.nonce, email: 'member@partner.example', email_verified: true } });
    expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 400, 'The sign-in could not be verified');
    expect(lastFailure()).toMatchObject({ cause: { detail: expect.stringMatching(/"alg"/) } });
  });

  it('an id_token for another audience or issuer', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ aud: 'someone-else' }, /"aud"/],
      [{ iss: 'https://other-idp.example' }, /"iss"/],
      [{ exp: Math.floor(Date.now() / 1000) - 3600 }, /exp/],
    ];
    for (const [claims, detail] of cases) {
      const flow = await start();
      const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'not-yet-linked', nonce: flow.nonce, email: 'member@partner.example', email_verified: true, ...claims } });
      expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 400, 'The sign-in could not be verified');
      expect(lastFailure()).toMatchObject({ cause: { detail: expect.stringMatching(detail) } });
    }
  });

  it('a nonce replayed from an earlier sign-in, and a missing nonce', async () => {
    const first = await start();
    const firstCode = upstream.issue({ challenge: first.challenge, claims: { sub: 'member', nonce: first.nonce, email: 'member@partner.example', email_verified: true } });
    const ok = await callback(first.browser, { code: firstCode, state: first.state });
    expect(ok.status).toBe(303);
    expect(String(ok.headers.location)).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));

    const second = await start();
    const replayed = upstream.issue({ challenge: second.challenge, claims: { sub: 'member', nonce: first.nonce, email: 'member@partner.example', email_verified: true } });
    // `member` is linked by now: only the nonce stands between this id_token and a session.
    expectRefusalPage(await callback(second.browser, { code: replayed, state: second.state }), 400, 'The sign-in could not be verified');
    expect(lastFailure()).toMatchObject({ reason: 'upstream_response', cause: { detail: 'unexpected ID Token "nonce" claim value' } });

    const third = await start();
    const missing = upstream.issue({ challenge: third.challenge, claims: { sub: 'member', email: 'member@partner.example', email_verified: true } });
    expectRefusalPage(await callback(third.browser, { code: missing, state: third.state }), 400, 'The sign-in could not be verified');
    expect(lastFailure()).toMatchObject({ cause: { detail: expect.stringMatching(/nonce/) } });
  });

  it('an unverified email, and a missing email_verified', async () => {
    for (const verified of [{ email_verified: false }, {}, { email_verified: 'true' }]) {
      const flow = await start();
      const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'not-yet-linked', nonce: flow.nonce, email: 'member@partner.example', ...verified } });
      expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 403, 'Your email address is not verified');
      expect(lastFailure()).toMatchObject({ reason: 'email_unverified' });
    }
  });

  it('a verified email outside the provider’s domains', async () => {
    const flow = await start();
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'admin', nonce: flow.nonce, email: 'admin@example.com', email_verified: true } });
    expectRefusalPage(await callback(flow.browser, { code, state: flow.state }), 403, 'This account cannot sign in here');
    expect(lastFailure()).toMatchObject({ reason: 'email_domain' });
  });

  it('no matching user with autoProvision off', async () => {
    const flow = await start();
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'stranger', nonce: flow.nonce, email: 'stranger@partner.example', email_verified: true } });
    const res = await callback(flow.browser, { code, state: flow.state });
    expectRefusalPage(res, 403, 'No account for you here');
    expect(lastFailure()).toMatchObject({ reason: 'no_user', provider: 'rogue', method: 'federated' });
    const users = await t.storage.resources.search({ project: t.boot.project.key, type: 'User', uniqueKeys: 'User.email|stranger@partner.example' });
    expect(users).toHaveLength(0);
  });
});

describe('matching by sub', () => {
  it('signs in only a User linked to the provider and subject; an equal email is not enough', async () => {
    await putUser(t, 'linked', { email: 'linked@elsewhere.example', identity: [{ provider: { reference: 'IdentityProvider/by-sub' }, subject: 'upstream-42' }] });
    const flow = await start('by-sub');
    // The email claim names another user: ignored with sub matching.
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'upstream-42', nonce: flow.nonce, email: 'member@partner.example', email_verified: true } });
    const res = await callback(flow.browser, { code, state: flow.state });
    expect(res.status).toBe(303);
    const done = await submitConsent(flow.browser, res, 'allow');
    const { code: ourCode } = redirectParams(done);
    const token = await request(t.app)
      .post(`${OAUTH}/token`)
      .type('form')
      .send({ grant_type: 'authorization_code', code: ourCode, redirect_uri: REDIRECT, client_id: 'app', code_verifier: flow.clientVerifier });
    expect(token.status).toBe(200);
    // This server's tokens, for the linked User; nothing of the provider's.
    expect(decodeJwt(token.body.id_token as string)).toMatchObject({ iss: 'https://fhir.example.test/w/default/default', sub: 'User/linked', aud: 'app' });
    expect(decodeJwt(token.body.access_token as string)).toMatchObject({ iss: 'https://fhir.example.test/w/default/default' });
    expect(JSON.stringify(token.body)).not.toContain(upstream.issuer);
    const partner = await t.storage.resources.readCurrent(t.boot.project.key, 'User', 'partner');
    expect(JSON.stringify(partner?.resource?.identity ?? [])).not.toContain('by-sub');

    const other = await start('by-sub');
    const unknown = upstream.issue({ challenge: other.challenge, claims: { sub: 'upstream-43', nonce: other.nonce, email: 'member@partner.example', email_verified: true } });
    expectRefusalPage(await callback(other.browser, { code: unknown, state: other.state }), 403, 'No account for you here');
  });
});

describe('private_key_jwt at the provider', () => {
  it('authenticates with an assertion signed by the project key published in its JWKS, without a client secret', async () => {
    const jwks = await request(t.app).get(`${OAUTH}/jwks`);
    upstream.clientJwks = jwks.body;
    await putProvider(t, 'keyed', { name: 'Keyed IdP', issuer: upstream.issuer, clientId: upstream.clientId, tokenEndpointAuthMethod: 'private_key_jwt', userMatching: 'sub' });
    await putUser(t, 'keyed-user', { identity: [{ provider: { reference: 'IdentityProvider/keyed' }, subject: 'keyed-sub' }] });
    const flow = await start('keyed');
    const code = upstream.issue({ challenge: flow.challenge, claims: { sub: 'keyed-sub', nonce: flow.nonce } });
    const res = await callback(flow.browser, { code, state: flow.state });
    expect(res.status).toBe(303);
    expect(String(res.headers.location)).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));
    const request_ = upstream.tokenRequests.find((r) => r.code === code);
    expect(request_?.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(upstream.assertions.at(-1)).toMatchObject({ iss: upstream.clientId, sub: upstream.clientId, jti: expect.any(String) });
  });

  it('refuses a clientSecret on such a provider', async () => {
    const res = await t.api
      .put(`${t.base}/IdentityProvider/keyed`)
      .set('Content-Type', 'application/fhir+json')
      .send({ resourceType: 'IdentityProvider', id: 'keyed', name: 'Keyed IdP', status: 'active', issuer: upstream.issuer, clientId: upstream.clientId, tokenEndpointAuthMethod: 'private_key_jwt', clientSecret: 'x' });
    expect(res.status).toBe(400);
  });
});
