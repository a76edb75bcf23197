/**
 * The patient picker of a standalone SMART launch: a user whose Membership links no Patient picks one after
 * signing in; the list holds only patients the user's AccessPolicies let them read; the choice becomes `patient`
 * in the token response and the access token; a forged choice never yields a code; `prompt=none` cannot show
 * the picker; a user with a linked Patient never sees it.
 */
import { decodeJwt } from 'jose';
import request from 'supertest';
import { Browser, OWNER, pkce, redirectParams, scrapeForm } from '../oauth/authorize-helpers';
import { FHIR, OAUTH, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const APP_REDIRECT = 'https://picker-app.example/callback';
const SCOPE = 'launch/patient openid fhirUser patient/*.rs';
const CLINICIAN = { email: 'clinician@example.com', password: 'password of the clinician' };
const MEMBER = { email: 'member@example.com', password: 'password of member@example.com' };
let fx: OAuthFixture;

function authorizeUrl(challenge: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    response_type: 'code', client_id: 'picker-app', redirect_uri: APP_REDIRECT, state: 'st-pick', code_challenge: challenge, code_challenge_method: 'S256',
    scope: SCOPE, aud: fx.fhirBaseUrl, ...extra,
  });
  return `${OAUTH}/authorize?${query.toString()}`;
}

/** /authorize → login; returns the browser and the response to the login post. */
async function signIn(user: { email: string; password: string }, challenge: string, extra: Record<string, string> = {}): Promise<{ browser: Browser; res: request.Response }> {
  const browser = new Browser(fx.t.app);
  const login = await browser.follow(await browser.get(authorizeUrl(challenge, extra)));
  const form = scrapeForm(login.text);
  const res = await browser.post(form.action, { ...form.fields, email: user.email, password: user.password });
  return { browser, res };
}

/** The Choose form of one patient on a picker page. */
function chooseForm(page: string, patient: string): ReturnType<typeof scrapeForm> {
  const forms = [...page.matchAll(/<form method="post"[\s\S]*?<\/form>/g)].map((m) => m[0]);
  const form = forms.find((f) => f.includes(`name="patient" value="${patient}"`));
  if (!form) throw new Error(`no Choose button for ${patient}`);
  return scrapeForm(form);
}

function listedIds(page: string): string[] {
  return [...page.matchAll(/name="patient" value="([^"]*)"/g)].map((m) => m[1] as string).sort();
}

async function exchange(code: string, verifier: string): Promise<request.Response> {
  return oauthPost(fx.t, 'token', { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT, code_verifier: verifier, client_id: 'picker-app' });
}

beforeAll(async () => {
  fx = await setupOAuth();
  await fx.repo.update('ClientApplication', 'picker-app', {
    resourceType: 'ClientApplication', id: 'picker-app', name: 'Picker App', status: 'active', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none',
    redirectUri: [APP_REDIRECT], scope: 'openid fhirUser launch/patient patient/*.rs',
  });
  const org = (id: string) => ({ managingOrganization: { reference: `Organization/${id}` } });
  await fx.repo.update('Patient', 'pa-1', { resourceType: 'Patient', id: 'pa-1', name: [{ given: ['Grace'], family: 'Hopper' }], birthDate: '1906-12-09', ...org('org-a') });
  await fx.repo.update('Patient', 'pa-2', { resourceType: 'Patient', id: 'pa-2', name: [{ given: ['Grace'], family: 'Kelly' }], birthDate: '1929-11-12', ...org('org-a') });
  await fx.repo.update('Patient', 'pb-1', { resourceType: 'Patient', id: 'pb-1', name: [{ given: ['Grace'], family: 'Other' }], birthDate: '1906-12-09', ...org('org-b') });
  await fx.repo.update('User', 'clinician', { resourceType: 'User', id: 'clinician', email: CLINICIAN.email, role: 'member', active: true, password: CLINICIAN.password });
  await fx.repo.update('Membership', 'm-clinician', { resourceType: 'Membership', id: 'm-clinician', user: { reference: 'User/clinician' }, active: true });
  await fx.repo.update('AccessPolicy', 'org-a-patients', {
    resourceType: 'AccessPolicy', id: 'org-a-patients', name: 'Patients of organization A', engine: 'rule-engine',
    target: [{ link: { reference: 'Membership/m-clinician' } }],
    rule: [{
      name: 'read and search Patients of org-a',
      target: { expression: "%request.resourceType = 'Patient' and (%request.interaction = 'read' or %request.interaction = 'search-type')" },
      condition: { expression: "managingOrganization.reference = 'Organization/org-a'" },
    }],
  });
});
afterAll(async () => {
  await fx.t.close();
});

describe('patient picker', () => {
  it('is shown after sign-in to a user whose Membership links no Patient, and lists only patients their policy permits', async () => {
    const { challenge } = pkce();
    const { browser, res } = await signIn(CLINICIAN, challenge);
    expect(res.status).toBe(303);
    expect(String(res.headers.location)).toMatch(new RegExp(`^${OAUTH}/patient-picker\\?interaction=`));
    const empty = await browser.follow(res);
    expect(empty.status).toBe(200);
    expect(empty.headers['cache-control']).toBe('no-store');
    expect(empty.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(empty.text).toContain('<label for="name">Name</label>');
    expect(empty.text).toContain('<label for="birthdate">Birth date</label>');
    expect(empty.text).toContain('Search patients');
    expect(listedIds(empty.text)).toEqual([]);
    const interaction = new URL(String(res.headers.location), 'http://x').searchParams.get('interaction') as string;
    const search = (q: Record<string, string>) => browser.get(`${OAUTH}/patient-picker?${new URLSearchParams({ interaction, ...q }).toString()}`);
    expect(listedIds((await search({ name: 'gra' })).text)).toEqual(['pa-1', 'pa-2']);
    expect(listedIds((await search({ name: 'hop' })).text)).toEqual(['pa-1']);
    expect(listedIds((await search({ birthdate: '1906-12-09' })).text)).toEqual(['pa-1']);
    expect(listedIds((await search({ name: 'Other' })).text)).toEqual([]);
    const page = await search({ name: 'Grace', birthdate: '1929-11-12' });
    expect(listedIds(page.text)).toEqual(['pa-2']);
    expect(page.text).toContain('Grace Kelly, born 1929-11-12');
    const bad = await search({ birthdate: 'yesterday' });
    expect(bad.status).toBe(200);
    expect(bad.text).toContain('role="alert"');
  });

  it('lists every matching patient to the project owner', async () => {
    const { browser, res } = await signIn(OWNER, pkce().challenge);
    expect(String(res.headers.location)).toMatch(/\/patient-picker\?/);
    expect(listedIds((await browser.get(`${String(res.headers.location)}&name=grace`)).text)).toEqual(['pa-1', 'pa-2', 'pb-1']);
  });

  it('turns the choice into patient in the token response and the access token', async () => {
    const { verifier, challenge } = pkce();
    const { browser, res } = await signIn(CLINICIAN, challenge);
    const picker = await browser.get(`${String(res.headers.location)}&name=Hopper`);
    const choose = chooseForm(picker.text, 'pa-1');
    const consentRedirect = await browser.post(choose.action, choose.fields);
    expect(String(consentRedirect.headers.location)).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));
    const consent = scrapeForm((await browser.follow(consentRedirect)).text);
    const { code, state } = redirectParams(await browser.post(consent.action, { ...consent.fields, decision: 'allow' }), APP_REDIRECT);
    expect(state).toBe('st-pick');
    const tokens = await exchange(code as string, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ patient: 'pa-1', scope: SCOPE });
    const access = tokens.body.access_token as string;
    expect(decodeJwt(access)).toMatchObject({ patient: 'pa-1' });
    const read = await request(fx.t.app).get(`${FHIR}/Patient/pa-1`).set('Authorization', `Bearer ${access}`);
    expect(read.status).toBe(200);
    expect((await request(fx.t.app).get(`${FHIR}/Patient/pa-2`).set('Authorization', `Bearer ${access}`)).status).toBe(404);

    // With consent remembered, /authorize goes straight to the picker, then the choice yields the code.
    const again = pkce();
    const fast = await browser.get(authorizeUrl(again.challenge));
    expect(String(fast.headers.location)).toMatch(new RegExp(`^${OAUTH}/patient-picker\\?interaction=`));
    const second = chooseForm((await browser.get(`${String(fast.headers.location)}&name=Kelly`)).text, 'pa-2');
    const direct = redirectParams(await browser.post(second.action, second.fields), APP_REDIRECT);
    expect((await exchange(direct.code as string, again.verifier)).body.patient).toBe('pa-2');
  });

  it('never yields a code for a forged choice: an unreadable or unknown patient, or a wrong CSRF token', async () => {
    const { challenge } = pkce();
    const { browser, res } = await signIn(CLINICIAN, challenge);
    const choose = chooseForm((await browser.get(`${String(res.headers.location)}&name=Hopper`)).text, 'pa-1');
    for (const patient of ['pb-1', 'nobody', '../pa-1', '']) {
      const forged = await browser.post(choose.action, { ...choose.fields, patient });
      expect(forged.status).toBe(403);
      expect(forged.headers.location).toBeUndefined();
      expect(forged.text).toContain('This patient cannot be chosen');
    }
    const csrf = await browser.post(choose.action, { ...choose.fields, csrf: 'forged' });
    expect(csrf.status).toBe(403);
    expect(csrf.headers.location).toBeUndefined();
    // Consent cannot be given before a patient is chosen: the browser goes back to the picker.
    const interaction = choose.fields.interaction as string;
    const early = await browser.post(`${OAUTH}/consent`, { interaction, csrf: choose.fields.csrf, decision: 'allow' });
    expect(String(early.headers.location)).toBe(`${OAUTH}/patient-picker?interaction=${encodeURIComponent(interaction)}`);
    // The honest choice still works afterwards (consent is on record from the previous test: straight to the code).
    expect(redirectParams(await browser.post(choose.action, choose.fields), APP_REDIRECT).code).toEqual(expect.any(String));
  });

  it('answers prompt=none with interaction_required when a patient must be picked', async () => {
    const { challenge } = pkce();
    const { browser } = await signIn(CLINICIAN, challenge);
    const res = await browser.get(authorizeUrl(challenge, { prompt: 'none' }));
    expect(redirectParams(res, APP_REDIRECT)).toEqual({
      error: 'interaction_required',
      error_description: 'The user must choose a patient for the launch/patient scope',
      state: 'st-pick',
      iss: fx.issuer,
    });
  });

  it('is skipped for a user whose Membership links a Patient', async () => {
    const { verifier, challenge } = pkce();
    const { browser, res } = await signIn(MEMBER, challenge);
    expect(String(res.headers.location)).toMatch(new RegExp(`^${OAUTH}/consent\\?`));
    const consent = scrapeForm((await browser.follow(res)).text);
    const { code } = redirectParams(await browser.post(consent.action, { ...consent.fields, decision: 'allow' }), APP_REDIRECT);
    expect((await exchange(code as string, verifier)).body.patient).toBe('patient-ada');
    // Opening the picker anyway sends the browser on to consent.
    const again = await signIn(MEMBER, pkce().challenge, { prompt: 'consent' });
    const interaction = new URL(String(again.res.headers.location), 'http://x').searchParams.get('interaction') as string;
    const picker = await again.browser.get(`${OAUTH}/patient-picker?interaction=${encodeURIComponent(interaction)}`);
    expect(String(picker.headers.location)).toMatch(/\/consent\?/);
  });
});
