/**
 * Fixtures of the access-door API tests (test/api/access-door.api.test.ts): one small clinical dataset, callers
 * with real tokens (client_credentials clients and users through the authorization-code grant), and readers
 * of searchset and history Bundles. Every principal's access is set up through the FHIR API with the admin
 * client's token, exactly as an administrator would.
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

export const FHIR_JSON = 'application/fhir+json';
export const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

type Json = Record<string, unknown>;

/** A Bundle entry as the tests read it. */
export interface DoorEntry {
  fullUrl?: string;
  resource?: Json & { resourceType: string; id: string; meta?: { versionId?: string } };
  search?: { mode: string };
  response?: { status: string };
}

/** Requests with one caller's bearer token, relative to the default project's FHIR base. */
export interface Caller {
  get(path: string): request.Test;
  post(path: string, body: unknown): request.Test;
  postForm(path: string, form: string): request.Test;
  put(path: string, body: unknown): request.Test;
}

/**
 * Requests as the holder of a token.
 * @param fx - the fixture
 * @param token - the access token
 * @returns the caller
 */
export function callerWith(fx: OAuthFixture, token: string): Caller {
  const auth = (test: request.Test): request.Test => test.set('Authorization', `Bearer ${token}`);
  return {
    get: (path) => auth(request(fx.t.app).get(`${FHIR}${path}`)),
    post: (path, body) => auth(request(fx.t.app).post(`${FHIR}${path}`)).set('Content-Type', FHIR_JSON).send(body as object),
    postForm: (path, form) => auth(request(fx.t.app).post(`${FHIR}${path}`)).type('form').send(form),
    put: (path, body) => auth(request(fx.t.app).put(`${FHIR}${path}`)).set('Content-Type', FHIR_JSON).send(body as object),
  };
}

/** The app, the admin caller and helpers that register principals. */
export interface DoorFixture {
  fx: OAuthFixture;
  admin: Caller;
  /** PUTs a resource with the admin token and returns the stored version. */
  put(resource: Json): Promise<Json>;
  /**
   * A client_credentials client (client_secret_basic) registered for `scope`, targeted by `policies` (a
   * full-access policy when none is given), and the token the token endpoint issues it.
   */
  clientToken(id: string, scope: string, policies?: PolicyBody[]): Promise<string>;
  /**
   * A User (role `member` unless given) with a Membership targeted by `policies`, and a token issued through the
   * authorization-code grant with the given scopes and launch context.
   */
  userToken(id: string, options: { scopes: string[]; policies?: PolicyBody[]; role?: string; launchPatient?: string }): Promise<string>;
}

/** An AccessPolicy without id and target (the helpers fill them in). */
export interface PolicyBody {
  engine: 'full-access' | 'rule-engine';
  rule?: Json[];
}

/**
 * Builds the app and returns the helpers.
 * @returns the fixture
 */
export async function setupDoor(): Promise<DoorFixture> {
  const fx = await setupOAuth();
  const adminToken = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  const admin = callerWith(fx, adminToken);
  const put = async (resource: Json): Promise<Json> => {
    const res = await admin.put(`/${String(resource.resourceType)}/${String(resource.id)}`, resource);
    if (res.status >= 300) throw new Error(`PUT ${String(resource.resourceType)}/${String(resource.id)}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Json;
  };
  const attach = async (id: string, target: string, policies: PolicyBody[]): Promise<void> => {
    for (const [i, policy] of policies.entries()) {
      await put({ resourceType: 'AccessPolicy', id: `${id}-${i}`, name: `${id} ${i}`, target: [{ link: { reference: target } }], ...policy });
    }
  };
  return {
    fx,
    admin,
    put,
    async clientToken(id, scope, policies = [{ engine: 'full-access' }]) {
      const secret = `${id}-secret-0123456789`;
      await put({ resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope });
      await attach(id, `ClientApplication/${id}`, policies);
      const res = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, [id, secret]);
      if (res.status !== 200 || res.body.scope !== scope) throw new Error(`token for ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.access_token as string;
    },
    async userToken(id, { scopes, policies = [], role = 'member', launchPatient }) {
      await put({ resourceType: 'User', id, email: `${id}@example.test`, role });
      await put({ resourceType: 'Membership', id, user: { reference: `User/${id}` }, active: true });
      await attach(id, `Membership/${id}`, policies);
      const launch = launchPatient === undefined ? {} : { launch: { source: 'ehr', patient: launchPatient } };
      return (await codeTokens(fx, { userId: id, membershipId: id, scope: scopes, ...launch })).access_token as string;
    },
  };
}

/** `Type/id` of the entries of a Bundle with the given search mode, sorted. */
export function refs(bundle: { entry?: DoorEntry[] }, mode: 'match' | 'include' | 'outcome'): string[] {
  return (bundle.entry ?? [])
    .filter((e) => e.search?.mode === mode)
    .map((e) => `${String(e.resource?.resourceType)}/${String(e.resource?.id)}`)
    .sort();
}

/** A searchset reduced to what the door promises about: status, matches, includes, outcome entries, total. */
export interface SearchView {
  status: number;
  matches: string[];
  included: string[];
  outcomes: string[];
  total?: number;
}

/**
 * Reduces a search response to a {@link SearchView}. `total` is kept only when asked for: without
 * `_total=accurate` the server may leave it out (docs/access-policies.md "_total").
 * @param res - the response
 * @param withTotal - keep `total` (the search asked for `_total=accurate` or `_summary=count`)
 * @returns the view
 */
export function searchView(res: request.Response, withTotal = false): SearchView {
  const body = res.body as { total?: number; entry?: DoorEntry[] };
  const view: SearchView = { status: res.status, matches: refs(body, 'match'), included: refs(body, 'include'), outcomes: refs(body, 'outcome') };
  if (withTotal) view.total = body.total;
  return view;
}

/** `Type/id/_history/vid` of every entry of a history Bundle, in order. */
export function historyVersions(bundle: { entry?: DoorEntry[] }): string[] {
  return (bundle.entry ?? []).map((e) => {
    const [type, id] = (e.fullUrl ?? '').split('/').slice(-2);
    const etag = /W\/"(\d+)"/.exec(String((e.response as { etag?: string } | undefined)?.etag))?.[1];
    return `${String(type)}/${String(id)}/_history/${String(etag)}`;
  });
}

/** `Type/id` of a versioned reference. */
export const unversioned = (ref: string): string => ref.split('/').slice(0, 2).join('/');

/** A policy rule permitting everything of one resource type (any interaction). */
export const permitType = (type: string, condition?: string): Json => ({
  name: `${type}${condition ? ` where ${condition}` : ''}`,
  target: { expression: `%request.resourceType = '${type}'` },
  ...(condition ? { condition: { expression: condition } } : {}),
});

/**
 * The dataset: two patients in different compartments, practitioners, an organization, encounters and
 * Observations that reference all of them. Some resources have two versions.
 * @param door - the fixture
 */
export async function loadDataset(door: DoorFixture): Promise<void> {
  const { put } = door;
  const category = (code: string) => [{ coding: [{ system: CATEGORY, code }] }];
  await put({ resourceType: 'Organization', id: 'org-1', name: 'Clinic' });
  await put({ resourceType: 'Practitioner', id: 'prac-1', name: [{ family: 'Hidden' }] });
  await put({ resourceType: 'Practitioner', id: 'prac-2', name: [{ family: 'Shown' }] });
  await put({ resourceType: 'Patient', id: 'pat-a', gender: 'female', name: [{ family: 'Alpha' }], identifier: [{ system: 'urn:test:mrn', value: 'a' }], managingOrganization: { reference: 'Organization/org-1' } });
  await put({ resourceType: 'Patient', id: 'pat-b', gender: 'male', name: [{ family: 'Beta' }], identifier: [{ system: 'urn:test:mrn', value: 'b' }] });
  await put({ resourceType: 'Patient', id: 'pat-b', gender: 'male', name: [{ family: 'Beta' }], identifier: [{ system: 'urn:test:mrn', value: 'b' }], active: true });
  await put({ resourceType: 'Encounter', id: 'enc-a', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/pat-a' } });
  await put({ resourceType: 'Encounter', id: 'enc-b', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/pat-b' } });
  const obs = (id: string, patient: string, code: string, extra: Json = {}) =>
    put({ resourceType: 'Observation', id, status: 'final', category: category(code), code: { text: code }, subject: { reference: `Patient/${patient}` }, ...extra });
  await obs('obs-a-lab', 'pat-a', 'laboratory', { performer: [{ reference: 'Practitioner/prac-1' }], encounter: { reference: 'Encounter/enc-a' } });
  await obs('obs-a-vital', 'pat-a', 'vital-signs', { focus: [{ reference: 'Patient/pat-b' }] });
  await obs('obs-a-vital', 'pat-a', 'vital-signs', { focus: [{ reference: 'Patient/pat-b' }], note: [{ text: 'second version' }] });
  await obs('obs-b-lab', 'pat-b', 'laboratory', { performer: [{ reference: 'Practitioner/prac-1' }], encounter: { reference: 'Encounter/enc-b' } });
  await obs('obs-b-vital', 'pat-b', 'vital-signs', { performer: [{ reference: 'Practitioner/prac-2' }], encounter: { reference: 'Encounter/enc-b' } });
}
