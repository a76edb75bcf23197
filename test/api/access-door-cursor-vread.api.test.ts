/**
 * A forged search cursor (its snapshot moved to the past) places a resource written since then by the version it had
 * at that snapshot. When the caller may read and search a type but not vread it nor read its history, no older
 * version is one it may see, so none may place a resource: otherwise a binary search over forged keys reads a
 * former value (here a former family name) that `GET Patient/x/_history/1` refuses. Today the check of older
 * versions is skipped for types permitted without conditions (paging.ts `placeable` is unset on the fast path).
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;
let admin: string;
let reader: string;
let between: string;
type Json = Record<string, unknown>;

const get = (token: string, path: string) => request(fx.t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
async function put(resource: Json): Promise<void> {
  const res = await request(fx.t.app).put(`${FHIR}/${String(resource.resourceType)}/${String(resource.id)}`).set('Authorization', `Bearer ${admin}`).set('Content-Type', FHIR_JSON).send(resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
}
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
const ids = (bundle: { entry?: Array<{ resource?: Json }> }): string[] => (bundle.entry ?? []).map((e) => `Patient/${String(e.resource?.id)}`);
const forged = (key: string): string => Buffer.from(JSON.stringify({ s: between, d: 'n', k: [key, ''] })).toString('base64url');

beforeAll(async () => {
  fx = await setupOAuth();
  admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  await put({ resourceType: 'User', id: 'lister', email: 'lister@example.test', role: 'member', password: 'password of lister!' });
  await put({ resourceType: 'Membership', id: 'lister', user: { reference: 'User/lister' }, active: true });
  await put({
    resourceType: 'AccessPolicy', id: 'lister', name: 'lister', engine: 'rule-engine', target: [{ link: { reference: 'Membership/lister' } }],
    rule: [{ name: 'current patients only', target: { expression: "%request.resourceType = 'Patient' and %request.interaction in ('read' | 'search-type')" } }],
  });
  reader = (await codeTokens(fx, { userId: 'lister', membershipId: 'lister' })).access_token as string;
  await put({ resourceType: 'Patient', id: 'x', name: [{ family: 'Quincey' }] });
  await tick();
  between = new Date().toISOString();
  await tick();
  await put({ resourceType: 'Patient', id: 'x', name: [{ family: 'Adams' }] });
});
afterAll(async () => {
  await fx.t.close();
});

it('the reader may not see the former version (the premise)', async () => {
  expect((await get(reader, '/Patient/x')).body.name[0].family).toBe('Adams');
  expect((await get(reader, '/Patient/x/_history/1')).status).toBe(403);
  expect((await get(reader, '/Patient/x/_history')).status).toBe(403);
});

it('a forged cursor never places a resource by its former version', async () => {
  // Placed by 'quincey' (sort keys are lower case), x follows 'p' but not 'r': the former name lies between. Placed by 'Adams', it follows neither.
  const afterP = await get(reader, `/Patient?_sort=family&_count=10&_cursor=${forged('p')}`);
  const afterR = await get(reader, `/Patient?_sort=family&_count=10&_cursor=${forged('r')}`);
  expect(afterP.status).toBe(200);
  expect(ids(afterP.body)).toEqual(ids(afterR.body));
  expect(ids(afterP.body)).toEqual([]);
});
