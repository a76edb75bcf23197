/**
 * SMART launch over real HTTP: an EHR launch created by a signed-in user through the launch endpoint, completed
 * by a public app at /authorize (login and consent as a browser submits them), the token response's context
 * parameters, the context in the access token and in introspection, `patient/` scopes confined to that patient on
 * the FHIR API; a standalone launch resolving the patient from the Membership; and every launch error.
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { Browser, pkce, redirectParams, scrapeForm } from '../oauth/authorize-helpers';
import { codeTokens, FHIR, OAUTH, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const APP_REDIRECT = 'https://smart-app.example/callback';
const LAUNCH_URI = 'https://smart-app.example/launch';
let fx: OAuthFixture;
let ehrToken: string;

const ADMIN = { email: 'admin2@example.com', password: 'password of admin2@example.com' };
const MEMBER = { email: 'member@example.com', password: 'password of member@example.com' };

function launchRequest(token: string | undefined, fields: Record<string, string>): request.Test {
  const req = request(fx.t.app).post(`${OAUTH}/launch`).type('form');
  if (token) req.set('Authorization', `Bearer ${token}`);
  return req.send(new URLSearchParams(fields).toString());
}

/** /authorize → login → consent as a browser; returns the redirect to the app (code or error). */
async function authorize(user: { email: string; password: string } | undefined, params: Record<string, string>, challenge: string): Promise<request.Response> {
  const browser = new Browser(fx.t.app);
  const query = new URLSearchParams({
    response_type: 'code', client_id: 'smart-app', redirect_uri: APP_REDIRECT, state: 'st-smart', code_challenge: challenge, code_challenge_method: 'S256', ...params,
  });
  let res = await browser.get(`${OAUTH}/authorize?${query.toString()}`);
  if (!user || res.status !== 303 || !String(res.headers.location).startsWith('/')) return res;
  const login = await browser.follow(res);
  const form = scrapeForm(login.text);
  res = await browser.post(form.action, { ...form.fields, email: user.email, password: user.password });
  if (res.status === 303 && String(res.headers.location).startsWith('/')) {
    const consent = await browser.follow(res);
    const consentForm = scrapeForm(consent.text);
    res = await browser.post(consentForm.action, { ...consentForm.fields, decision: 'allow' });
  }
  return res;
}

async function exchange(code: string, verifier: string): Promise<request.Response> {
  return oauthPost(fx.t, 'token', { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT, code_verifier: verifier, client_id: 'smart-app' });
}

beforeAll(async () => {
  fx = await setupOAuth();
  const client = (id: string) =>
    fx.repo.update('ClientApplication', id, {
      resourceType: 'ClientApplication', id, name: `SMART ${id}`, status: 'active', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none',
      redirectUri: [APP_REDIRECT], launchUri: LAUNCH_URI, scope: 'openid fhirUser launch launch/patient patient/*.rs',
    });
  await client('smart-app');
  await client('other-smart-app');
  await fx.repo.update('Patient', 'p1', { resourceType: 'Patient', id: 'p1', name: [{ family: 'One' }] });
  await fx.repo.update('Patient', 'p2', { resourceType: 'Patient', id: 'p2', name: [{ family: 'Two' }] });
  await fx.repo.update('Encounter', 'e1', { resourceType: 'Encounter', id: 'e1', status: 'in-progress', class: { code: 'AMB' }, subject: { reference: 'Patient/p1' } });
  await fx.repo.update('Observation', 'obs-p1', { resourceType: 'Observation', id: 'obs-p1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } });
  await fx.repo.update('Observation', 'obs-p2', { resourceType: 'Observation', id: 'obs-p2', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p2' } });
  ehrToken = (await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId })).access_token as string;
});
afterAll(async () => {
  await fx.t.close();
});

describe('EHR launch', () => {
  it('creates a launch for a readable patient and returns the app URL with iss and launch', async () => {
    const res = await launchRequest(ehrToken, { client_id: 'smart-app', patient: 'p1', encounter: 'e1' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const url = new URL(res.body.url as string);
    expect(`${url.origin}${url.pathname}`).toBe(LAUNCH_URI);
    expect(url.searchParams.get('iss')).toBe(fx.fhirBaseUrl);
    expect(url.searchParams.get('launch')).toBe(res.body.launch);
  });

  it('completes at /authorize: the token response carries the context, the token enforces it', async () => {
    const { launch } = (await launchRequest(ehrToken, { client_id: 'smart-app', patient: 'p1', encounter: 'e1' })).body as { launch: string };
    const { verifier, challenge } = pkce();
    const redirect = await authorize(ADMIN, { scope: 'launch openid fhirUser patient/*.rs', aud: fx.fhirBaseUrl, launch }, challenge);
    const { code, state } = redirectParams(redirect, APP_REDIRECT);
    expect(state).toBe('st-smart');
    const tokens = await exchange(code as string, verifier);
    expect(tokens.status).toBe(200);
    // The patient and encounter have their own parameters; fhirContext never repeats them (and is absent here).
    expect(tokens.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'launch openid fhirUser patient/*.rs',
      id_token: expect.any(String),
      patient: 'p1',
      encounter: 'e1',
      need_patient_banner: false,
      smart_style_url: `${fx.issuer}/api/v1/oauth/smart-style.json`,
    });
    const access = tokens.body.access_token as string;
    expect(decodeJwt(access)).toMatchObject({ patient: 'p1', encounter: 'e1' });
    const introspection = await oauthPost(fx.t, 'introspect', { token: access }, ['web-app', 'web-app-secret-0123456789']);
    expect(introspection.body).toMatchObject({ active: true, patient: 'p1', encounter: 'e1' });
    const get = (path: string) => request(fx.t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${access}`);
    expect((await get('/Patient/p1')).status).toBe(200);
    expect((await get('/Patient/p2')).status).toBe(404);
    const observations = await get('/Observation');
    expect((observations.body.entry as Array<{ resource: { id: string } }>).map((e) => e.resource.id)).toEqual(['obs-p1']);
    expect((await request(fx.t.app).get(`${OAUTH}/smart-style.json`)).body).toHaveProperty('color_highlight');
  });

  it('refuses a launch created for another app, an unknown or expired launch, and a launch completed by another user', async () => {
    const { launch } = (await launchRequest(ehrToken, { client_id: 'other-smart-app', patient: 'p1' })).body as { launch: string };
    const { challenge } = pkce();
    const scope = 'launch openid patient/*.rs';
    const other = redirectParams(await authorize(undefined, { scope, aud: fx.fhirBaseUrl, launch }, challenge), APP_REDIRECT);
    expect(other).toMatchObject({ error: 'invalid_request', state: 'st-smart', iss: fx.issuer });
    expect(redirectParams(await authorize(undefined, { scope, aud: fx.fhirBaseUrl, launch: 'made-up' }, challenge), APP_REDIRECT).error).toBe('invalid_request');
    const expired = 'expired-launch-value';
    await fx.t.storage.records.put({
      kind: 'smart-launch',
      key: createHash('sha256').update(expired).digest('base64url'),
      value: { project: 'default/default', clientId: 'smart-app', userId: fx.adminId, patient: 'p1' },
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(redirectParams(await authorize(undefined, { scope, aud: fx.fhirBaseUrl, launch: expired }, challenge), APP_REDIRECT).error).toBe('invalid_request');
    expect(redirectParams(await authorize(undefined, { scope, aud: fx.fhirBaseUrl }, challenge), APP_REDIRECT).error).toBe('invalid_request');
    const mine = (await launchRequest(ehrToken, { client_id: 'smart-app', patient: 'p1' })).body as { launch: string };
    const stolen = redirectParams(await authorize(MEMBER, { scope, aud: fx.fhirBaseUrl, launch: mine.launch }, challenge), APP_REDIRECT);
    expect(stolen.error).toBe('access_denied');
  });

  it('issues no code without the right aud', async () => {
    const { launch } = (await launchRequest(ehrToken, { client_id: 'smart-app', patient: 'p1' })).body as { launch: string };
    const { challenge } = pkce();
    for (const aud of [undefined, 'https://elsewhere.example/fhir', `${fx.fhirBaseUrl}/`]) {
      const params: Record<string, string> = { scope: 'launch openid patient/*.rs', launch };
      if (aud) params.aud = aud;
      const res = redirectParams(await authorize(undefined, params, challenge), APP_REDIRECT);
      expect(res.error).toBe('invalid_request');
      expect(res.error_description).toMatch(/aud/);
      expect(res.code).toBeUndefined();
    }
  });

  it('answers the launch endpoint errors in OAuth form', async () => {
    expect((await launchRequest(undefined, { client_id: 'smart-app', patient: 'p1' })).status).toBe(401);
    const client = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
    const notUser = await launchRequest(client, { client_id: 'smart-app', patient: 'p1' });
    expect(notUser.status).toBe(403);
    expect(notUser.body.error).toBe('insufficient_scope');
    const bad: Array<Record<string, string>> = [{ client_id: 'smart-app' }, { client_id: 'nobody', patient: 'p1' }, { client_id: 'web-app', patient: 'p1' }, { client_id: 'smart-app', patient: '../p1' }];
    for (const fields of bad) {
      const res = await launchRequest(ehrToken, fields);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    }
    // A member without a policy for the patient may not launch it.
    const member = (await codeTokens(fx)).access_token as string;
    const unreadable = await launchRequest(member, { client_id: 'smart-app', patient: 'p1' });
    expect(unreadable.status).toBe(400);
    expect(unreadable.body.error_description).toMatch(/cannot be read/);
  });
});

describe('the docs/smart.md examples', () => {
  it('registers the example app with a FHIR update and launches it', async () => {
    const admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
    const app = {
      resourceType: 'ClientApplication', id: 'growth-chart', name: 'Growth chart', status: 'active',
      grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'none',
      redirectUri: ['https://growth-chart.example/callback'], launchUri: 'https://growth-chart.example/launch',
      scope: 'openid fhirUser launch launch/patient offline_access patient/*.rs user/Patient.rs',
    };
    const put = await request(fx.t.app).put(`${FHIR}/ClientApplication/growth-chart`).set('Authorization', `Bearer ${admin}`).set('Content-Type', 'application/fhir+json').send(app);
    expect(put.status).toBe(201);
    const launched = await launchRequest(ehrToken, { client_id: 'growth-chart', patient: 'p1', encounter: 'e1' });
    expect(launched.status).toBe(200);
    expect(launched.body.url).toBe(`https://growth-chart.example/launch?iss=${encodeURIComponent(fx.fhirBaseUrl)}&launch=${String(launched.body.launch)}`);
  });
});

describe('standalone launch', () => {
  it('gives a user whose Membership links a Patient that patient, with a patient banner', async () => {
    const { verifier, challenge } = pkce();
    const redirect = await authorize(MEMBER, { scope: 'launch/patient openid fhirUser patient/*.rs', aud: fx.fhirBaseUrl }, challenge);
    const { code } = redirectParams(redirect, APP_REDIRECT);
    const tokens = await exchange(code as string, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ patient: 'patient-ada', need_patient_banner: true, fhirUser: `${fx.fhirBaseUrl}/Patient/patient-ada` });
    expect(decodeJwt(tokens.body.access_token as string)).toMatchObject({ patient: 'patient-ada' });
    expect(decodeJwt(tokens.body.id_token as string)).toMatchObject({ fhirUser: `${fx.fhirBaseUrl}/Patient/patient-ada` });
    // With a policy that lets the patient read their own record, the fhirUser URL reads with the issued token.
    await fx.repo.update('Patient', 'patient-ada', { resourceType: 'Patient', id: 'patient-ada', name: [{ family: 'Lovelace' }] });
    await fx.repo.update('AccessPolicy', 'member-self', {
      resourceType: 'AccessPolicy', id: 'member-self', name: 'Own record', engine: 'rule-engine',
      target: [{ link: { reference: `Membership/${fx.memberMembershipId}` } }],
      rule: [{ name: 'own patient', target: { expression: "%request.interaction = 'read'" }, condition: { expression: '%resource.id = %fhirUser.id' } }],
    });
    const fhirUser = new URL(tokens.body.fhirUser as string);
    const read = await request(fx.t.app).get(fhirUser.pathname).set('Authorization', `Bearer ${String(tokens.body.access_token)}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ resourceType: 'Patient', id: 'patient-ada' });
  });
});
