/**
 * The authorization endpoint's request checks (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636; RFC 9207): which errors
 * become an HTML page and which are redirected to the client with error, error_description, state and iss.
 */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { interactionCookie } from '../../src/oauth/interaction/cookies';
import { authorizeQuery, Browser, ISSUER, OAUTH, pkce, putClient, redirectParams, REDIRECT, validParams } from './authorize-helpers';

let t: TestApp;
const { challenge } = pkce();

beforeAll(async () => {
  t = await buildTestApp();
  await putClient(t, 'app');
  await putClient(t, 'two-uris', { redirectUri: [REDIRECT, 'https://app.example/other'] });
  await putClient(t, 'off', { status: 'inactive' });
  await putClient(t, 'no-code', { grantType: ['refresh_token'] });
  await putClient(t, 'bad-uri', { redirectUri: ['javascript:alert(1)'] });
});
afterAll(async () => t.close());

function get(params: Record<string, string | undefined>) {
  return request(t.app).get(authorizeQuery(params));
}

function expectErrorPage(res: request.Response, status: number, message: RegExp): void {
  expect(res.status).toBe(status);
  expect(res.headers.location).toBeUndefined();
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(res.text).toMatch(message);
}

describe('errors shown as a page, never redirected', () => {
  it('answers an unknown client with a 400 page', async () => {
    const res = await get(validParams(challenge, { client_id: 'nobody' }));
    expectErrorPage(res, 400, /not registered with this server/);
    expect(res.text).toContain('<code>invalid_client</code>');
  });

  it('answers a missing client_id with a 400 page', async () => {
    expectErrorPage(await get(validParams(challenge, { client_id: undefined })), 400, /client_id parameter is required/);
  });

  it('answers a repeated client_id with a 400 page', async () => {
    const res = await request(t.app).get(`${authorizeQuery(validParams(challenge))}&client_id=app`);
    expectErrorPage(res, 400, /client_id parameter was given more than once/);
  });

  it('answers an inactive client with a 400 page', async () => {
    expectErrorPage(await get(validParams(challenge, { client_id: 'off' })), 400, /not active/);
  });

  it('answers a redirect_uri that is not registered exactly with a 400 page', async () => {
    for (const uri of [`${REDIRECT}/`, `${REDIRECT}?x=1`, 'https://evil.example/callback', REDIRECT.toUpperCase()]) {
      expectErrorPage(await get(validParams(challenge, { redirect_uri: uri })), 400, /redirect_uri is not registered/);
    }
  });

  it('requires redirect_uri when several are registered', async () => {
    expectErrorPage(await get(validParams(challenge, { client_id: 'two-uris', redirect_uri: undefined })), 400, /redirect_uri parameter is required/);
  });

  it('never redirects to a registered javascript: URI', async () => {
    expectErrorPage(await get(validParams(challenge, { client_id: 'bad-uri', redirect_uri: 'javascript:alert(1)' })), 400, /not registered/);
  });

  it('escapes everything it shows', async () => {
    const res = await get(validParams(challenge, { client_id: '<script>x</script>' }));
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('<script>');
  });

  it('answers an oversized form with a 413 page and a non-form POST with a 400 page', async () => {
    const big = await request(t.app).post(`${OAUTH}/authorize`).type('form').send(`client_id=app&state=${'x'.repeat(20_000)}`);
    expectErrorPage(big, 413, /could not be processed/);
    const json = await request(t.app).post(`${OAUTH}/authorize`).send({ client_id: 'app' });
    expectErrorPage(json, 400, /client_id parameter is required/);
  });

  it('answers an unknown project with a 404 page', async () => {
    const res = await request(t.app).get(`/w/default/nope/api/v1/oauth/authorize?${new URLSearchParams(validParams(challenge) as Record<string, string>)}`);
    expectErrorPage(res, 404, /no such project/);
  });
});

describe('errors redirected to the client', () => {
  async function expectRedirectError(params: Record<string, string | undefined>, error: string, description: RegExp, state: string | null = 'st-1') {
    const res = await get(params);
    expect(res.status).toBe(303);
    expect(res.headers['cache-control']).toBe('no-store');
    const query = redirectParams(res);
    expect(query).toEqual({ error, error_description: expect.stringMatching(description), iss: ISSUER, ...(state !== null ? { state } : {}) });
  }

  it('refuses a missing response_type', async () => {
    await expectRedirectError(validParams(challenge, { response_type: undefined }), 'invalid_request', /response_type is required/);
  });

  it.each(['token', 'id_token', 'code id_token', 'none'])('refuses response_type=%s', async (responseType) => {
    await expectRedirectError(validParams(challenge, { response_type: responseType }), 'unsupported_response_type', /Only response_type=code/);
  });

  it('refuses a missing code_challenge (PKCE is required of every client)', async () => {
    await expectRedirectError(validParams(challenge, { code_challenge: undefined, code_challenge_method: undefined }), 'invalid_request', /code_challenge is required/);
  });

  it('refuses code_challenge_method=plain', async () => {
    await expectRedirectError(validParams(challenge, { code_challenge_method: 'plain' }), 'invalid_request', /must be S256/);
  });

  it('refuses a code_challenge without a method (RFC 7636 would read it as plain)', async () => {
    await expectRedirectError(validParams(challenge, { code_challenge_method: undefined }), 'invalid_request', /must be S256/);
  });

  it('refuses a code_challenge that is not a SHA-256 digest', async () => {
    await expectRedirectError(validParams('too-short'), 'invalid_request', /43 base64url characters/);
  });

  it('refuses a client without the authorization_code grant', async () => {
    await expectRedirectError(validParams(challenge, { client_id: 'no-code' }), 'unauthorized_client', /authorization_code/);
  });

  it('refuses a missing scope and a scope the client may not have', async () => {
    await expectRedirectError(validParams(challenge, { scope: undefined }), 'invalid_scope', /scope is required/);
    await expectRedirectError(validParams(challenge, { scope: 'system/*.* admin' }), 'invalid_scope', /None of the requested scopes/);
  });

  it('refuses unknown and contradictory prompt values', async () => {
    await expectRedirectError(validParams(challenge, { prompt: 'select_account' }), 'invalid_request', /Unsupported prompt value 'select_account'/);
    await expectRedirectError(validParams(challenge, { prompt: 'none login' }), 'invalid_request', /prompt=none cannot be combined/);
  });

  it('refuses a bad max_age and other response modes', async () => {
    await expectRedirectError(validParams(challenge, { max_age: '-1' }), 'invalid_request', /max_age/);
    await expectRedirectError(validParams(challenge, { response_mode: 'fragment' }), 'invalid_request', /response_mode=query/);
  });

  it('answers a malformed request object or a request_uri it did not issue with an error page (test/oauth/par-jar.test.ts has the rest)', async () => {
    for (const [extra, code] of [[{ request: 'eyJ.x.y' }, 'invalid_request_object'], [{ request_uri: 'https://x' }, 'invalid_request_uri']] as const) {
      const res = await request(t.app).get(authorizeQuery(validParams(challenge, extra)));
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toContain(`<code>${code}</code>`);
    }
  });

  it('refuses repeated parameters', async () => {
    const res = await request(t.app).get(`${authorizeQuery(validParams(challenge))}&scope=openid`);
    expect(redirectParams(res)).toMatchObject({ error: 'invalid_request', error_description: 'The scope parameter was given more than once', state: 'st-1' });
  });

  it('leaves state out when there was none', async () => {
    await expectRedirectError(validParams(challenge, { state: undefined, response_type: 'token' }), 'unsupported_response_type', /code/, null);
  });

  it('returns state byte-for-byte', async () => {
    const state = 'a b+c&d=e%20f/é😀?#';
    const res = await get(validParams(challenge, { state, response_type: 'token' }));
    expect(redirectParams(res).state).toBe(state);
  });

  it('keeps the query of the registered redirect URI', async () => {
    await putClient(t, 'with-query', { redirectUri: ['https://app.example/cb?tenant=a%20b'] });
    const res = await get(validParams(challenge, { client_id: 'with-query', redirect_uri: undefined, response_type: 'token' }));
    expect(String(res.headers.location)).toMatch(/^https:\/\/app\.example\/cb\?tenant=a%20b&error=unsupported_response_type&/);
  });
});

describe('a valid request', () => {
  it('stores the interaction and sends the browser to the login page', async () => {
    const browser = new Browser(t.app);
    const res = await browser.get(authorizeQuery(validParams(challenge)));
    expect(res.status).toBe(303);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.location).toMatch(new RegExp(`^${OAUTH}/login\\?interaction=[A-Za-z0-9_-]{43}$`));
    const id = new URL(res.headers.location as string, 'https://x').searchParams.get('interaction');
    expect(browser.cookies.get(interactionCookie(String(id)))).toEqual({
      value: id,
      attributes: `Path=${OAUTH}; Max-Age=600; HttpOnly; SameSite=Lax; Secure`,
    });
  });

  it('accepts the request by POST as a form', async () => {
    const browser = new Browser(t.app);
    const res = await browser.post(`${OAUTH}/authorize`, validParams(challenge));
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/\/login\?interaction=/);
  });

  it('uses the single registered redirect URI when redirect_uri is omitted', async () => {
    const res = await get(validParams(challenge, { redirect_uri: undefined, prompt: 'none' }));
    expect(redirectParams(res)).toMatchObject({ error: 'login_required', state: 'st-1', iss: ISSUER });
  });
});
