/**
 * Fixtures of the audit tests: a patient-linked member with a rule-engine AccessPolicy, a public SMART app, a
 * confidential resource server, and helpers to read the trail back (after a flush) from the store and the API.
 */
import request from 'supertest';
import type { Resource } from '../../src/fhir/repository/repository';
import type { TestApp } from '../helpers/build-test-app';
import { Browser, pkce, putClient, putUser, redirectParams, repo, submitConsent, submitLogin, validParams, authorizeQuery, OAUTH, REDIRECT } from '../oauth/authorize-helpers';

export { OAUTH, REDIRECT };

export type AuditEventJson = Record<string, any>;

/** The member's AccessPolicy: reads and searches of Patient and Observation, but never Observation/obs-2. */
export const ADA_POLICY = {
  resourceType: 'AccessPolicy',
  id: 'ada-policy',
  name: 'Ada: read her chart',
  engine: 'rule-engine',
  target: [{ link: { reference: 'Membership/ada' } }],
  rule: [
    { name: 'read', target: { expression: "%request.interaction in ('read' | 'vread' | 'search-type') and %request.resourceType in ('Patient' | 'Observation')" } },
    { name: 'not obs-2', effect: 'deny', target: { expression: "%request.resourceType = 'Observation'" }, condition: { expression: "%resource.id = 'obs-2'" } },
  ],
};

export const RS_SECRET = 'resource-server-secret-0123456789';

/**
 * Writes the fixtures: patients pat-1 and pat-2, observations obs-1 (pat-1) and obs-2 (pat-2), user ada (linked to
 * pat-1) with {@link ADA_POLICY}, public app `app`, confidential client `rs` (introspection).
 * @param t - the test app
 * @returns ada's credentials
 */
export async function writeFixtures(t: TestApp): Promise<{ email: string; password: string }> {
  const r = repo(t);
  await r.update('Patient', 'pat-1', { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Lovelace' }] });
  await r.update('Patient', 'pat-2', { resourceType: 'Patient', id: 'pat-2', name: [{ family: 'Byron' }] });
  for (const [id, patient] of [['obs-1', 'pat-1'], ['obs-2', 'pat-2'], ['obs-3', 'pat-1']] as const) {
    await r.update('Observation', id, { resourceType: 'Observation', id, status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patient}` } });
  }
  await putClient(t, 'app');
  await r.update('ClientApplication', 'rs', {
    resourceType: 'ClientApplication',
    id: 'rs',
    name: 'Resource server',
    status: 'active',
    grantType: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: RS_SECRET,
    scope: 'system/Patient.rs',
  } as Resource);
  const ada = await putUser(t, 'ada', { name: { family: 'Lovelace' } }, { link: { reference: 'Patient/pat-1' } });
  await r.update('AccessPolicy', 'ada-policy', ADA_POLICY as Resource);
  return ada;
}

/** What a browser sign-in produced. */
export interface SignIn {
  code: string;
  verifier: string;
  browser: Browser;
  /** Cookie values the browser held (session, interaction). */
  cookies: string[];
  /** Hidden form values posted (CSRF tokens). */
  formSecrets: string[];
}

/**
 * Runs /authorize → (a failed login first, when asked) → login → consent in a browser.
 * @param t - the test app
 * @param credentials - ada's
 * @param options - `wrongPasswordFirst`, the consent decision, the scope
 * @returns the code and what the browser held
 */
export async function signIn(
  t: TestApp,
  credentials: { email: string; password: string },
  options: { wrongPassword?: string; decision?: 'allow' | 'deny'; scope?: string; clientId?: string } = {},
): Promise<SignIn & { redirect: Record<string, string> }> {
  const { verifier, challenge } = pkce();
  const browser = new Browser(t.app);
  const formSecrets: string[] = [];
  const scope = options.scope ?? 'openid fhirUser offline_access user/Observation.rs user/Patient.rs';
  let page = await browser.get(authorizeQuery(validParams(challenge, { scope, client_id: options.clientId ?? 'app' })));
  if (options.wrongPassword) {
    page = await submitLogin(browser, page, { email: credentials.email, password: options.wrongPassword });
    if (page.status !== 401) throw new Error(`expected the failed sign-in page, got ${page.status}`);
  }
  const hidden = (html: string): void => {
    for (const m of html.matchAll(/type="hidden" name="([^"]+)" value="([^"]+)"/g)) if (m[1] !== 'interaction') formSecrets.push(m[2] as string);
  };
  if (page.status === 200 || page.status === 401) hidden(page.text);
  const afterLogin = await submitLogin(browser, page, credentials);
  let done = afterLogin;
  if (String(afterLogin.headers.location).includes('/consent?')) {
    const consentPage = await browser.follow(afterLogin);
    hidden(consentPage.text);
    done = await submitConsent(browser, consentPage, options.decision ?? 'allow');
  }
  const redirect = redirectParams(done, REDIRECT);
  return { code: redirect.code ?? '', verifier, browser, cookies: [...browser.cookies.values()].map((c) => c.value), formSecrets, redirect };
}

/**
 * A form POST to an OAuth endpoint.
 * @param t - the test app
 * @param endpoint - token, introspect, revoke
 * @param form - the fields
 * @param basic - client credentials for HTTP Basic
 * @returns the response
 */
export function oauthForm(t: TestApp, endpoint: string, form: Record<string, string>, basic?: [string, string]): request.Test {
  const req = request(t.app).post(`${OAUTH}/${endpoint}`).type('form');
  if (basic) req.auth(basic[0], basic[1]);
  return req.send(new URLSearchParams(form).toString());
}

/**
 * Every AuditEvent of the bootstrap project, straight from the store, after writing what is queued.
 * @param t - the test app
 * @returns the resources, oldest first
 */
export async function storedAuditEvents(t: TestApp): Promise<AuditEventJson[]> {
  await t.audit.trail?.flush();
  const docs = await t.storage.resources.search({ project: t.boot.project.key, type: 'AuditEvent', deleted: false });
  return docs.map((d) => d.resource as AuditEventJson).sort((a, b) => String(a.recorded).localeCompare(String(b.recorded)));
}

/**
 * The requests an AuditEvent records (several of one caller, interaction and outcome share one record).
 * @param event - the AuditEvent
 * @returns the count
 */
export function requestCount(event: AuditEventJson): number {
  const match = /^(\d+) requests: /.exec(String(event.outcomeDesc));
  return match ? Number(match[1]) : 1;
}

/** The subtype codes of an AuditEvent. */
export function subtypes(event: AuditEventJson): string[] {
  return (event.subtype as Array<{ code: string }>).map((c) => c.code);
}

/** The entity references of an AuditEvent. */
export function entityRefs(event: AuditEventJson): string[] {
  return ((event.entity ?? []) as Array<{ what?: { reference?: string } }>).flatMap((e) => (e.what?.reference ? [e.what.reference] : []));
}

/** The agent references of an AuditEvent. */
export function agentRefs(event: AuditEventJson): string[] {
  return (event.agent as Array<{ who?: { reference?: string } }>).flatMap((a) => (a.who?.reference ? [a.who.reference] : []));
}
