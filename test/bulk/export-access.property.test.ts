/**
 * An export holds exactly what the token may read (DESIGN §5.8, docs/bulk-export.md "What is exported"), as a
 * property: for random principals (SMART system/ scopes and AccessPolicies from the access-door generators) over a
 * random dataset,
 *   (i)  each type of a system-level export equals, resource for resource, what the paged searches
 *        `GET [type]?_count=5` (every `next` link followed) return with the same token; a type those searches
 *        refuse is absent from the output and reported as a `forbidden` error line (it was asked for by `_type`);
 *   (ii) a group-level export (when the token may read the Group) equals the union of the compartment searches
 *        `GET Patient/[member]/[type]` with the same token;
 *   (iii) every exported resource reads 200 with the same token, and none is written twice.
 * Seeded: `BULK_SEED=<seed> npx jest test/bulk/export-access.property.test.ts` reproduces a run.
 */
import { randomInt } from 'node:crypto';
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { bulkExport, type ExportResult, listeningServer } from '../helpers/bulk-client';
import { describePrincipal, generateDataset, generatePrincipal, Rng, TYPES } from '../api/access-door-generators';
import { clientToken } from './bulk-fixtures';

const SEED = process.env.BULK_SEED !== undefined ? Number(process.env.BULK_SEED) : randomInt(2 ** 31);
const PRINCIPALS = Number(process.env.BULK_PRINCIPALS ?? 8);
const REPRODUCE = `BULK_SEED=${SEED} npx jest test/bulk/export-access.property.test.ts`;

type Json = Record<string, unknown>;

let t: TestApp;
let http: Awaited<ReturnType<typeof listeningServer>>;
let fhir: string;
let dataset: Json[];
const GROUP_MEMBERS = ['pat-0', 'pat-2', 'pat-5'];

/** Every match of a search over all its pages (duplicates kept), or the refusal status. */
async function pagedSearch(path: string, token: string): Promise<{ status: number; refs: string[] }> {
  const refs: string[] = [];
  let url: string | undefined = path;
  for (let pages = 0; url; pages++) {
    if (pages > 200) throw new Error(`${path}: the next links do not end`);
    const res = await request(t.app).get(url).set('Authorization', `Bearer ${token}`);
    if (res.status !== 200) return { status: res.status, refs };
    const body = res.body as { entry?: Array<{ resource: Json; search?: { mode: string } }>; link?: Array<{ relation: string; url: string }> };
    for (const e of body.entry ?? []) if (e.search?.mode === 'match') refs.push(`${String(e.resource.resourceType)}/${String(e.resource.id)}`);
    const next = body.link?.find((l) => l.relation === 'next')?.url;
    url = next === undefined ? undefined : `${new URL(next).pathname}${new URL(next).search}`;
  }
  return { status: 200, refs };
}

function exported(result: ExportResult, type: string): string[] {
  return (result.resources.get(type) ?? []).map((r) => `${type}/${String(r.id)}`);
}

const sorted = (refs: Iterable<string>): string[] => [...refs].sort();

beforeAll(async () => {
  http = await listeningServer();
  t = await buildTestApp({ PUBLIC_URL: http.origin });
  http.server.on('request', t.app);
  fhir = `${http.origin}${t.base}`;
  dataset = generateDataset(new Rng(SEED));
  dataset.push({ resourceType: 'Group', id: 'cohort', type: 'person', actual: true, member: GROUP_MEMBERS.map((id) => ({ entity: { reference: `Patient/${id}` } })) });
  const entry = dataset.map((r) => ({ resource: r, request: { method: 'PUT', url: `${String(r.resourceType)}/${String(r.id)}` } }));
  const res = await t.api.post(t.base).set('Content-Type', 'application/fhir+json').send({ resourceType: 'Bundle', type: 'transaction', entry });
  if (res.status !== 200) throw new Error(`loading the dataset: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}, 120_000);

afterAll(async () => {
  await http.close();
  await t.close();
});

it(`exports exactly what paged searches with the same token return (${PRINCIPALS} random principals; reproduce: ${REPRODUCE})`, async () => {
  const rng = new Rng(SEED + 1);
  const problems: string[] = [];
  let compared = 0;
  for (let i = 0; i < PRINCIPALS; i++) {
    const spec = generatePrincipal(rng, i);
    const who = `${describePrincipal(spec)} [${REPRODUCE}]`;
    const token = await clientToken(t, `bulk-p${i}`, spec.scopes.join(' '), spec.policies);
    // (i) system level.
    const system = await bulkExport(`${fhir}/$export?_type=${TYPES.join(',')}`, token);
    const refusedLines = new Set(system.errors.flatMap((e) => (e.issue[0]?.code === 'forbidden' ? (e.issue[0].expression ?? []) : [])));
    for (const type of TYPES) {
      const search = await pagedSearch(`${t.base}/${type}?_count=5`, token);
      const got = exported(system, type);
      if (new Set(got).size !== got.length) problems.push(`${who}: ${type} written twice`);
      if (search.status === 403) {
        if (got.length > 0 || !refusedLines.has(type)) problems.push(`${who}: ${type} refused to searches but exported ${got.length} / error line ${refusedLines.has(type)}`);
        continue;
      }
      if (search.status !== 200) problems.push(`${who}: search ${type} answered ${search.status}`);
      if (JSON.stringify(sorted(got)) !== JSON.stringify(sorted(search.refs))) problems.push(`${who}: ${type} exported ${sorted(got).join(' ')} but searches return ${sorted(search.refs).join(' ')}`);
      compared++;
    }
    // (iii) every exported resource reads 200.
    for (const type of TYPES) {
      for (const ref of exported(system, type)) {
        const read = await request(t.app).get(`${t.base}/${ref}`).set('Authorization', `Bearer ${token}`);
        if (read.status !== 200) problems.push(`${who}: exported ${ref} reads ${read.status}`);
      }
    }
    // (ii) group level, when the Group is readable.
    const group = await request(t.app).get(`${t.base}/Group/cohort`).set('Authorization', `Bearer ${token}`);
    if (group.status !== 200) continue;
    const compartmentTypes = TYPES.filter((type) => !['Practitioner', 'Organization'].includes(type));
    const byGroup = await bulkExport(`${fhir}/Group/cohort/$export?_type=${compartmentTypes.join(',')}`, token);
    for (const type of compartmentTypes) {
      const union = new Set<string>();
      let refused = false;
      for (const member of GROUP_MEMBERS) {
        const search = await pagedSearch(`${t.base}/Patient/${member}/${type}?_count=5`, token);
        if (search.status === 403) refused = true;
        for (const ref of search.refs) union.add(ref);
      }
      const got = exported(byGroup, type);
      if (refused ? got.length > 0 : JSON.stringify(sorted(got)) !== JSON.stringify(sorted(union))) {
        problems.push(`${who}: group ${type} exported ${sorted(got).join(' ')} but compartment searches return ${sorted(union).join(' ')}${refused ? ' (refused)' : ''}`);
      }
      compared++;
    }
  }
  expect(problems).toEqual([]);
  expect(compared).toBeGreaterThan(PRINCIPALS);
}, 300_000);
