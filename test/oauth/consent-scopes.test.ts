/**
 * Per-scope consent over HTTP ("patient chooses"): the consent page offers a ticked checkbox per resource scope
 * and shows the fixed scopes as included; what the form ticks — and only that — reaches the code, the access
 * token's `scope` claim, the token response and the remembered consent; the FHIR API refuses an unticked type;
 * a forged scope is refused; unticked scopes are asked for again rather than granted silently.
 */
import { decodeJwt } from 'jose';
import request, { type Response } from 'supertest';
import { rememberedScopes } from '../../src/oauth/interaction/consent-store';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import {
  authorizeQuery,
  Browser,
  ISSUER,
  OAUTH,
  pkce,
  putClient,
  putUser,
  REDIRECT,
  redirectParams,
  repo,
  scrapeForm,
  submitConsent,
  submitLogin,
  validParams,
} from './authorize-helpers';

const FHIR = '/w/default/default/api/v1/fhir/r4';
const FULL = 'openid fhirUser offline_access user/Observation.rs user/Patient.rs';

let t: TestApp;
let users = 0;

beforeAll(async () => {
  t = await buildTestApp();
  await putClient(t, 'app');
  await repo(t).update('Patient', 'pat-1', { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Lovelace' }] });
  await repo(t).update('Observation', 'obs-1', {
    resourceType: 'Observation', id: 'obs-1', status: 'final', code: { text: 'weight' }, subject: { reference: 'Patient/pat-1' },
  });
});
afterAll(async () => t.close());

/** A signed-in browser of a new admin (full access by policy, so only scopes narrow it). */
interface Flow {
  browser: Browser;
  userId: string;
  verifier: string;
  /** The response that leads to the consent page (or the redirect to the client when none is needed). */
  res: Response;
}

async function startFlow(scope: string, extra: Record<string, string> = {}): Promise<Flow> {
  users += 1;
  const userId = `consent-${users}`;
  const user = await putUser(t, userId, { role: 'admin' });
  const browser = new Browser(t.app);
  const { verifier, challenge } = pkce();
  const res = await submitLogin(browser, await browser.get(authorizeQuery(validParams(challenge, { scope, ...extra }))), user);
  return { browser, userId, verifier, res };
}

/** Goes on with a browser that is already signed in. */
async function again(flow: Flow, scope: string, extra: Record<string, string> = {}): Promise<Flow> {
  const { verifier, challenge } = pkce();
  return { ...flow, verifier, res: await flow.browser.get(authorizeQuery(validParams(challenge, { scope, ...extra }))) };
}

async function exchange(code: string, verifier: string): Promise<Response> {
  return request(t.app)
    .post(`${OAUTH}/token`)
    .type('form')
    .send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: 'app' });
}

/** Allows (with `untick` unticked) and exchanges the code; returns the token response. */
async function consentAndExchange(flow: Flow, untick: string[] = []): Promise<Response> {
  const { code } = redirectParams(await submitConsent(flow.browser, flow.res, 'allow', untick));
  const tokens = await exchange(code as string, flow.verifier);
  expect(tokens.status).toBe(200);
  return tokens;
}

function remembered(flow: Flow): Promise<string[]> {
  return rememberedScopes(t.storage.records, { project: t.boot.project.key, userId: flow.userId, clientId: 'app' });
}

function fhirGet(token: string, path: string): request.Test {
  return request(t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
}

describe('the consent page', () => {
  it('offers a ticked checkbox per resource scope and shows the other scopes as always included', async () => {
    const flow = await startFlow(FULL);
    const page = await flow.browser.follow(flow.res);
    expect(page.status).toBe(200);
    const box = (n: number, scope: string, text: string) =>
      `<li><input type="checkbox" id="scope-${n}" name="scope" value="${scope}" checked> <label for="scope-${n}">${text} <code>${scope}</code></label></li>`;
    const fixed = (n: number, scope: string, text: string) =>
      `<li><input type="checkbox" id="fixed-${n}" checked disabled> <label for="fixed-${n}">${text} <code>${scope}</code></label></li>`;
    expect(page.text).toContain(
      '<fieldset>\n<legend>Choose what to allow (untick what you do not want to share)</legend>\n<ul class="scopes">' +
        box(1, 'user/Observation.rs', 'Read and search Observation records you have access to') +
        box(2, 'user/Patient.rs', 'Read and search Patient records you have access to') +
        '</ul>\n</fieldset>',
    );
    expect(page.text).toContain(
      '<fieldset>\n<legend>Always included when you allow</legend>\n<ul class="scopes">' +
        fixed(1, 'openid', 'Confirm your identity') +
        fixed(2, 'fhirUser', 'Know which person record (patient or practitioner) you are') +
        fixed(3, 'offline_access', 'Stay signed in and keep access when you are not using the app, until you revoke it') +
        '</ul>\n</fieldset>',
    );
    // The checkboxes sit inside the form that Allow and Deny submit; a browser posts the ticked ones only.
    expect(scrapeForm(page.text).fields).toEqual({
      interaction: expect.any(String),
      csrf: expect.any(String),
      scope: ['user/Observation.rs', 'user/Patient.rs'],
    });
  });
});

describe('granting what was ticked', () => {
  it('grants every scope when every box stays ticked', async () => {
    const flow = await startFlow(FULL);
    const tokens = await consentAndExchange(flow);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', scope: FULL, refresh_token: expect.any(String), id_token: expect.any(String) });
    expect(decodeJwt(tokens.body.access_token as string).scope).toBe(FULL);
    expect(await remembered(flow)).toEqual(FULL.split(' '));
    expect((await fhirGet(tokens.body.access_token as string, '/Patient/pat-1')).status).toBe(200);
    expect((await fhirGet(tokens.body.access_token as string, '/Observation/obs-1')).status).toBe(200);
  });

  it('leaves an unticked scope out of the code, the token, the remembered consent, and the FHIR API', async () => {
    const flow = await startFlow(FULL);
    const tokens = await consentAndExchange(flow, ['user/Patient.rs']);
    const granted = 'openid fhirUser offline_access user/Observation.rs';
    expect(tokens.body.scope).toBe(granted);
    const access = tokens.body.access_token as string;
    expect(decodeJwt(access).scope).toBe(granted);
    expect(await remembered(flow)).toEqual(granted.split(' '));

    expect((await fhirGet(access, '/Observation/obs-1')).status).toBe(200);
    const refused = await fhirGet(access, '/Patient/pat-1');
    expect(refused.status).toBe(403);
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The token\'s scopes do not permit read on Patient"',
    );
    expect(refused.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'forbidden', diagnostics: "The token's scopes do not permit read on Patient" }],
    });

    // A refresh cannot win back what was unticked.
    const refresh = await request(t.app)
      .post(`${OAUTH}/token`)
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: 'app', scope: FULL });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_scope');
  });

  it('asks again, rather than granting silently, when a later request names an unticked scope', async () => {
    const flow = await startFlow(FULL);
    await consentAndExchange(flow, ['user/Patient.rs']);

    const silent = await again(flow, FULL, { prompt: 'none', state: 'quiet' });
    expect(redirectParams(silent.res)).toEqual({
      error: 'consent_required',
      error_description: 'The user has not allowed the requested scopes for this client',
      state: 'quiet',
      iss: ISSUER,
    });
    const asked = await again(flow, FULL);
    expect(asked.res.headers.location).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));
    // What was allowed is still granted without asking.
    const subset = await again(flow, 'openid user/Observation.rs');
    expect(redirectParams(subset.res)).toEqual({ code: expect.any(String), state: 'st-1', iss: ISSUER });
    expect((await exchange(redirectParams(subset.res).code as string, subset.verifier)).body.scope).toBe('openid user/Observation.rs');

    // The latest answer wins: ticking it now grants it; unticking an earlier one forgets that one.
    expect((await consentAndExchange(asked, ['user/Observation.rs'])).body.scope).toBe('openid fhirUser offline_access user/Patient.rs');
    expect(await remembered(flow)).toEqual(['openid', 'fhirUser', 'offline_access', 'user/Patient.rs']);
  });

  it('keeps scopes allowed for earlier requests that this page did not show', async () => {
    const flow = await startFlow('openid user/Observation.rs');
    await consentAndExchange(flow);
    const wider = await again(flow, 'openid user/Patient.rs');
    await consentAndExchange(wider);
    expect((await remembered(flow)).sort()).toEqual(['openid', 'user/Observation.rs', 'user/Patient.rs']);
  });

  it('still grants the fixed scopes when every resource scope is unticked', async () => {
    const flow = await startFlow(FULL);
    const tokens = await consentAndExchange(flow, ['user/Observation.rs', 'user/Patient.rs']);
    expect(tokens.body).toMatchObject({ scope: 'openid fhirUser offline_access', refresh_token: expect.any(String), id_token: expect.any(String) });
    expect(await remembered(flow)).toEqual(['openid', 'fhirUser', 'offline_access']);
    expect((await fhirGet(tokens.body.access_token as string, '/Observation/obs-1')).status).toBe(403);
  });

  it('ends with access_denied when nothing at all is left to grant', async () => {
    const flow = await startFlow('user/Observation.rs user/Patient.rs', { state: 'none-left' });
    const res = await submitConsent(flow.browser, flow.res, 'allow', ['user/Observation.rs', 'user/Patient.rs']);
    expect(redirectParams(res)).toEqual({
      error: 'access_denied',
      error_description: 'The user allowed none of the requested scopes',
      state: 'none-left',
      iss: ISSUER,
    });
    expect(await remembered(flow)).toEqual([]);
  });

  it('forgets the scopes shown when the user denies', async () => {
    const flow = await startFlow('openid user/Observation.rs');
    await consentAndExchange(flow);
    const deny = await again(flow, 'openid user/Observation.rs', { prompt: 'consent' });
    expect(redirectParams(await submitConsent(flow.browser, deny.res, 'deny')).error).toBe('access_denied');
    expect(await remembered(flow)).toEqual([]);
    expect((await again(flow, 'openid user/Observation.rs')).res.headers.location).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));
  });

  it('takes a request of well over 100 resource scopes (one form field each)', async () => {
    const subsets = ['c', 'r', 'u', 'd', 's', 'cr', 'cu', 'cd', 'cs', 'ru', 'rd', 'rs', 'ud', 'us', 'ds', 'cru', 'crd', 'crs', 'cud', 'cus'];
    const types = ['Observation', 'Patient', 'Encounter', 'Condition', 'Procedure', 'Immunization', 'Goal'];
    const scopes = types.flatMap((type) => subsets.map((p) => `user/${type}.${p}`));
    expect(scopes.length).toBe(140);
    const flow = await startFlow(['openid', ...scopes].join(' '));
    const tokens = await consentAndExchange(flow, ['user/Goal.s']);
    expect(tokens.body.scope).toBe(['openid', ...scopes.filter((s) => s !== 'user/Goal.s')].join(' '));
  });
});

describe('a forged form', () => {
  it.each([
    ['a scope the request did not name', 'user/Encounter.rs'],
    ['a wider scope than the one shown', 'user/*.*'],
    ['a fixed scope posted as a box', 'openid'],
    ['a resource scope the client may not have', 'system/*.*'],
    ['an empty value', ''],
  ])('is refused for %s, and the honest form still works afterwards', async (_, forged) => {
    const flow = await startFlow('openid user/Observation.rs');
    const page = await flow.browser.follow(flow.res);
    const { action, fields } = scrapeForm(page.text);
    const res = await flow.browser.post(action, { ...fields, scope: ['user/Observation.rs', forged], decision: 'allow' });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain('<p class="error" role="alert">The form named a permission this application did not ask for. Go back to the application and start again.</p>');
    expect(await remembered(flow)).toEqual([]);

    const honest = await flow.browser.post(action, { ...fields, decision: 'allow' });
    const tokens = await exchange(redirectParams(honest).code as string, flow.verifier);
    expect(tokens.body.scope).toBe('openid user/Observation.rs');
  });
});
