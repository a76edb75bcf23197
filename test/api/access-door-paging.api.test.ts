/**
 * Paging links reveal nothing a read would refuse: a forged search cursor never places a resource by the sort key
 * of a version the caller may not see, and history offsets count only the versions the caller sees.
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;
let admin: string;
let reader: string;

type Json = Record<string, unknown>;
interface BundleJson {
  entry?: Array<{ resource?: Json }>;
  link: Array<{ relation: string; url: string }>;
}

const get = (token: string, path: string) => request(fx.t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);

async function put(resource: Json): Promise<Json> {
  const res = await request(fx.t.app)
    .put(`${FHIR}/${String(resource.resourceType)}/${String(resource.id)}`)
    .set('Authorization', `Bearer ${admin}`)
    .set('Content-Type', FHIR_JSON)
    .send(resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Json;
}

const link = (bundle: BundleJson, relation: string): string | undefined => {
  const url = bundle.link.find((l) => l.relation === relation)?.url;
  return url === undefined ? undefined : url.slice(url.indexOf(FHIR) + FHIR.length);
};
const ids = (bundle: BundleJson): string[] => (bundle.entry ?? []).map((e) => `${String(e.resource?.resourceType)}/${String(e.resource?.id)}`);
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

let between: string;
beforeAll(async () => {
  fx = await setupOAuth();
  admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  // Sees only active Patients and final Observations (searches, reads and history alike).
  await put({ resourceType: 'User', id: 'pager', email: 'pager@example.test', role: 'member', password: 'password of pager!' });
  await put({ resourceType: 'Membership', id: 'pager', user: { reference: 'User/pager' }, active: true });
  await put({
    resourceType: 'AccessPolicy', id: 'pager', name: 'pager', engine: 'rule-engine', target: [{ link: { reference: 'Membership/pager' } }],
    rule: [
      { name: 'active patients', target: { expression: "%request.resourceType = 'Patient'" }, condition: { expression: '%resource.active = true' } },
      { name: 'final observations', target: { expression: "%request.resourceType = 'Observation'" }, condition: { expression: "%resource.status = 'final'" } },
    ],
  });
  reader = (await codeTokens(fx, { userId: 'pager', membershipId: 'pager' })).access_token as string;

  for (const family of ['bbb', 'ccc']) await put({ resourceType: 'Patient', id: family, active: true, name: [{ family }] });
  // Patient x: first a version the reader may not see (sorted last), then a visible one (sorted first).
  await put({ resourceType: 'Patient', id: 'x', active: false, name: [{ family: 'zed' }] });
  await tick();
  between = new Date().toISOString();
  await tick();
  await put({ resourceType: 'Patient', id: 'x', active: true, name: [{ family: 'aaa' }] });

  // Versions the reader sees (o-final) interleaved with versions it does not (o-draft).
  for (let i = 0; i < 5; i++) {
    await put({ resourceType: 'Observation', id: 'o-final', status: 'final', code: { text: `v${i}` } });
    for (let j = 0; j < 3; j++) await put({ resourceType: 'Observation', id: 'o-draft', status: 'preliminary', code: { text: `v${i}.${j}` } });
  }
});
afterAll(async () => {
  await fx.t.close();
});

describe('a forged search cursor', () => {
  it('never places a resource by a version the caller may not see', async () => {
    const first = await get(reader, '/Patient?_sort=family&_count=1');
    expect(first.status).toBe(200);
    expect(ids(first.body)).toEqual(['Patient/x']);
    const next = new URL(`http://h${link(first.body, 'next')}`).searchParams.get('_cursor') as string;
    const cursor = JSON.parse(Buffer.from(next, 'base64url').toString('utf8')) as { s: string; d: string; k: unknown[] };
    // A cursor at a snapshot where x held its hidden version, positioned between the two families.
    const forged = Buffer.from(JSON.stringify({ ...cursor, s: between, k: ['m', ...cursor.k.slice(1).map(() => '')] })).toString('base64url');
    const page = await get(reader, `/Patient?_sort=family&_count=10&_cursor=${forged}`);
    expect(page.status).toBe(200);
    // Placed by its hidden version ('zed'), x would follow 'm'; placed by what the reader sees ('aaa'), it does not.
    expect(ids(page.body)).toEqual([]);
    // The admin, who may see the old version, gets the snapshot's order.
    expect(ids((await get(admin, `/Patient?_sort=family&_count=10&_cursor=${forged}`)).body)).toEqual(['Patient/x']);
  });
});

describe('history offsets', () => {
  it('count only the versions the caller sees, both ways', async () => {
    const seen: string[] = [];
    const offsets: string[] = [];
    let path: string | undefined = '/Observation/_history?_count=2';
    let pages = 0;
    while (path && pages++ < 10) {
      const res = await get(reader, path);
      expect(res.status).toBe(200);
      seen.push(...(res.body.entry as Array<{ resource: Json }>).map((e) => `${String(e.resource.id)}@${String((e.resource.meta as Json).versionId)}`));
      path = link(res.body, 'next');
      if (path) offsets.push(new URL(`http://h${path}`).searchParams.get('_offset') as string);
    }
    expect(seen).toEqual(['o-final@5', 'o-final@4', 'o-final@3', 'o-final@2', 'o-final@1']);
    expect(offsets).toEqual(['2', '4']);
    const third = await get(reader, `/Observation/_history?_count=2&_offset=4`);
    expect(link(third.body, 'previous')).toMatch(/_offset=2(&|$)/);
    const fromPrevious = await get(reader, link(third.body, 'previous') as string);
    expect(fromPrevious.body.entry.map((e: { resource: Json }) => (e.resource.meta as Json).versionId)).toEqual(['3', '2']);
  });
});
