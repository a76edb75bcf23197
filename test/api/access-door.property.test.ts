/**
 * One door, as a property (DESIGN §5.8): for random principals and random searches,
 *   (i)  every resource a search returns (match or include, on every page) reads 200 with the same token, and
 *   (ii) the matches over all pages — and the included resources, and `_total=accurate` — equal those of the same
 *        search run by an administrator over the caller's VISIBLE subset only.
 * The visible subset V of a principal is measured, not predicted: every dataset resource is read directly with the
 * principal's token, and exactly V is loaded (ids preserved) into a fresh project, where the same search runs with
 * that project's admin token. Principals sharing a V share the project.
 *
 * Principals are client_credentials clients with random SMART system/ scopes (v1 and v2, wildcards, restricted
 * scopes; `r` and `s` always together) and random AccessPolicies (full-access, rule-engine rules on the resource
 * type, the id and field values, deny rules). Rules never look at `%request.interaction` or
 * `%request.parameters`, so what a token may read and what it may search coincide, and (ii) is exact: chains and
 * `_has` see only V, includes are judged like direct reads, invisible resources are not followed by `:iterate`.
 *
 * Seeded and reproducible: the seed is random per run unless `DOOR_SEED` is set, and every failure report starts
 * with the command that reproduces it (`DOOR_SEED=<seed> npx jest test/api/access-door.property.test.ts`).
 * `DOOR_PRINCIPALS` and `DOOR_QUERIES` change the size of a run (defaults 24 × 88 = 2,112 cases).
 */
import { randomInt } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { buildTestApp, clientCredentialsToken, type TestApp } from '../helpers/build-test-app';
import { describePrincipal, generateDataset, generatePrincipal, generateSearch, type PrincipalSpec, Rng, type SearchSpec } from './access-door-generators';

const SEED = process.env.DOOR_SEED !== undefined ? parseSeed(process.env.DOOR_SEED) : randomInt(2 ** 31);
const PRINCIPALS = Number(process.env.DOOR_PRINCIPALS ?? 24);
const QUERIES = Number(process.env.DOOR_QUERIES ?? 88);
const MIN_CASES = 2000;
const TENANT = 'door';
const FHIR_JSON = 'application/fhir+json';
const REPRODUCE = `DOOR_SEED=${SEED} npx jest test/api/access-door.property.test.ts`;

function parseSeed(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) >= 2 ** 32) throw new Error(`DOOR_SEED must be an integer in [0, 2^32): '${text}'`);
  return Number(text);
}

type Json = Record<string, unknown>;
interface Entry {
  resource?: Json & { resourceType: string; id: string };
  search?: { mode: string };
}

let t: TestApp;
let server: http.Server;
/** One keep-alive connection pool for the thousands of requests of a run. */
const agent = new http.Agent({ keepAlive: true });

const fhirBase = (project: string): string => `/w/${TENANT}/${project}/api/v1/fhir/r4`;
const MAIN = fhirBase('main');

function get(path: string, token: string): request.Test {
  return request(server).get(path).agent(agent).set('Authorization', `Bearer ${token}`);
}

/** Loads resources with ids preserved: one transaction of PUT entries. */
async function load(base: string, token: string, resources: Json[]): Promise<void> {
  if (resources.length === 0) return;
  const entry = resources.map((r) => ({ resource: r, request: { method: 'PUT', url: `${String(r.resourceType)}/${String(r.id)}` } }));
  const res = await request(server).post(base).agent(agent).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Bundle', type: 'transaction', entry });
  if (res.status !== 200) throw new Error(`loading ${base}: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
}

/** What one search returned over all its pages. */
interface Run {
  status: number;
  /** Every match, in order, over all pages (duplicates kept). */
  matches: string[];
  included: Set<string>;
  /** `total` of each page. */
  totals: Array<number | undefined>;
  /** The issues of `outcome` entries, once each. */
  outcomes: Set<string>;
  body?: unknown;
}

const refOf = (e: Entry): string => `${String(e.resource?.resourceType)}/${String(e.resource?.id)}`;

/**
 * Runs a search and follows every `next` link.
 * @param base - the FHIR base
 * @param token - the bearer token
 * @param spec - the search
 * @param onePage - ask for everything in one page instead of the search's `_count`
 */
async function runSearch(base: string, token: string, spec: SearchSpec, onePage = false): Promise<Run> {
  const run: Run = { status: 200, matches: [], included: new Set(), totals: [], outcomes: new Set() };
  const query = onePage ? [...spec.query.split('&').filter((p) => !p.startsWith('_count=')), '_count=1000'].join('&') : spec.query;
  let url: string | undefined = `${base}/${spec.type}?${query}`;
  for (let pages = 0; url; pages++) {
    if (pages > 100) throw new Error(`more than 100 pages for ${spec.type}?${spec.query}: the next links do not end`);
    const res = await get(url, token);
    if (res.status !== 200) return { ...run, status: res.status, body: res.body as unknown };
    const body = res.body as { total?: number; entry?: Entry[]; link?: Array<{ relation: string; url: string }> };
    run.totals.push(body.total);
    for (const e of body.entry ?? []) {
      if (e.search?.mode === 'match') run.matches.push(refOf(e));
      else if (e.search?.mode === 'include') run.included.add(refOf(e));
      else run.outcomes.add(JSON.stringify((e.resource as { issue?: unknown } | undefined)?.issue));
    }
    const next = body.link?.find((l) => l.relation === 'next')?.url;
    url = next === undefined ? undefined : `${new URL(next).pathname}${new URL(next).search}`;
  }
  return run;
}

/** A principal set up in the main project. */
interface Principal {
  spec: PrincipalSpec;
  token: string;
  /** Direct-read status of each resource (`Type/id`), dataset resources first. */
  reads: Map<string, number>;
  visible: string[];
  /** The project holding exactly the visible subset, and its admin token. */
  subset: { base: string; token: string; key: string };
}

async function registerPrincipal(spec: PrincipalSpec): Promise<string> {
  const secret = `${spec.name}-secret-0123456789`;
  const scope = spec.scopes.join(' ');
  const put = async (resource: Json): Promise<void> => {
    const res = await t.api.put(`${MAIN}/${String(resource.resourceType)}/${String(resource.id)}`).set('Content-Type', FHIR_JSON).send(resource);
    if (res.status >= 300) throw new Error(`${describePrincipal(spec)}: PUT ${String(resource.resourceType)}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  await put({ resourceType: 'ClientApplication', id: spec.name, name: spec.name, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope });
  for (const [i, policy] of spec.policies.entries()) {
    await put({ resourceType: 'AccessPolicy', id: `${spec.name}-${i}`, name: `${spec.name} ${i}`, target: [{ link: { reference: `ClientApplication/${spec.name}` } }], ...policy });
  }
  const token = await clientCredentialsToken(t.app, TENANT, 'main', spec.name, secret);
  const granted = (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { scope?: string }).scope;
  if (granted !== scope) throw new Error(`${describePrincipal(spec)}: granted "${String(granted)}" instead of "${scope}"`);
  return token;
}

const subsets = new Map<string, { base: string; token: string }>();

async function subsetProject(visible: string[], dataset: Map<string, Json>): Promise<{ base: string; token: string; key: string }> {
  const key = [...visible].sort().join(' ');
  let found = subsets.get(key);
  if (!found) {
    const project = `subset-${subsets.size}`;
    const token = await t.authorize(TENANT, project);
    found = { base: fhirBase(project), token };
    await load(found.base, token, visible.map((ref) => dataset.get(ref) as Json));
    subsets.set(key, found);
  }
  return { ...found, key };
}

async function setUpPrincipal(spec: PrincipalSpec, dataset: Map<string, Json>): Promise<Principal> {
  const token = await registerPrincipal(spec);
  const refs = [...dataset.keys()];
  const statuses = await Promise.all(refs.map(async (ref) => (await get(`${MAIN}/${ref}`, token)).status));
  const reads = new Map(refs.map((ref, i) => [ref, statuses[i] as number]));
  for (const [ref, status] of reads) {
    if (![200, 403, 404].includes(status)) throw new Error(`${describePrincipal(spec)}: GET ${ref} answered ${status}`);
  }
  const visible = refs.filter((ref) => reads.get(ref) === 200);
  return { spec, token, reads, visible, subset: await subsetProject(visible, dataset) };
}

/** What broke in one case. */
interface Problem {
  kind: string;
  detail: string;
}

/** One broken case. */
interface Failure {
  principal: PrincipalSpec;
  search: SearchSpec;
  problems: Problem[];
}

const diff = (actual: Iterable<string>, expected: Iterable<string>): { extra: string[]; missing: string[] } => {
  const a = new Set(actual);
  const e = new Set(expected);
  return { extra: [...a].filter((x) => !e.has(x)).sort(), missing: [...e].filter((x) => !a.has(x)).sort() };
};

/** Checks one search of one principal against its subset's answer; returns what broke. */
async function checkCase(p: Principal, spec: SearchSpec, expected: Run): Promise<Problem[]> {
  const problems: Problem[] = [];
  const actual = await runSearch(MAIN, p.token, spec);
  if (actual.status === 403) {
    // Refused on the type: allowed only when the token reads no resource of it.
    const readable = p.visible.filter((ref) => ref.startsWith(`${spec.type}/`));
    if (readable.length > 0) problems.push({ kind: 'search refused though the token reads resources of the type', detail: `403, yet it reads ${readable.join(', ')}` });
    return problems;
  }
  if (actual.status !== 200) return [{ kind: `unexpected status ${actual.status}`, detail: JSON.stringify(actual.body).slice(0, 300) }];
  // (i) everything returned reads 200 with the same token.
  for (const [mode, refs] of [['match', actual.matches], ['include', [...actual.included]]] as const) {
    for (const ref of new Set(refs)) {
      let status = p.reads.get(ref);
      if (status === undefined) {
        status = (await get(`${MAIN}/${ref}`, p.token)).status;
        p.reads.set(ref, status);
      }
      if (status !== 200) problems.push({ kind: `${mode} the token cannot read`, detail: `returned ${ref} as ${mode}; GET ${ref} with the same token answers ${status}` });
    }
  }
  const duplicates = actual.matches.filter((ref, i) => actual.matches.indexOf(ref) !== i);
  if (duplicates.length > 0) problems.push({ kind: 'match repeated across pages', detail: duplicates.join(', ') });
  // (ii) the same answer as over the visible subset.
  const matches = diff(actual.matches, expected.matches);
  if (matches.extra.length + matches.missing.length > 0) {
    problems.push({ kind: 'matches differ from the visible subset', detail: `extra ${JSON.stringify(matches.extra)} missing ${JSON.stringify(matches.missing)}` });
  }
  const onlyIncluded = (run: Run): string[] => [...run.included].filter((ref) => !run.matches.includes(ref));
  const included = diff(onlyIncluded(actual), onlyIncluded(expected));
  if (included.extra.length + included.missing.length > 0) {
    problems.push({ kind: 'includes differ from the visible subset', detail: `extra ${JSON.stringify(included.extra)} missing ${JSON.stringify(included.missing)}` });
  }
  if (spec.countOnly && (actual.matches.length > 0 || actual.totals[0] !== expected.totals[0])) {
    problems.push({ kind: '_summary=count differs from the visible subset', detail: `total ${String(actual.totals[0])}, visible matches ${String(expected.totals[0])}` });
  }
  if (spec.total) {
    const count = new Set(expected.matches).size;
    if (actual.totals.some((total) => total !== count)) problems.push({ kind: '_total differs from the visible matches', detail: `totals ${JSON.stringify(actual.totals)}, visible matches ${count}` });
  }
  const outcomes = diff(actual.outcomes, expected.outcomes);
  if (outcomes.extra.length + outcomes.missing.length > 0) {
    problems.push({ kind: 'outcome entries differ from the visible subset', detail: `extra ${outcomes.extra.join(' ').slice(0, 300)} missing ${outcomes.missing.join(' ').slice(0, 300)}` });
  }
  return problems;
}

function report(failures: Failure[], cases: number): string {
  const kinds = new Map<string, number>();
  for (const f of failures) for (const kind of new Set(f.problems.map((p) => p.kind))) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  const lines = [
    `${failures.length} of ${cases} cases broke the door (seed ${SEED}); reproduce with: ${REPRODUCE}`,
    ...[...kinds].map(([kind, n]) => `  ${n} cases: ${kind}`),
    'First broken cases:',
    ...failures.slice(0, 6).flatMap((f) => [
      `- GET ${f.search.type}?${decodeURIComponent(f.search.query)}`,
      `  as ${describePrincipal(f.principal)}`,
      ...f.problems.slice(0, 6).map((p) => `    ${p.kind}: ${p.detail}`),
      ...(f.problems.length > 6 ? [`    ... and ${f.problems.length - 6} more`] : []),
    ]),
  ];
  return lines.join('\n');
}

beforeAll(async () => {
  // Warnings only: thousands of requests need no access log.
  t = await buildTestApp({ LOG_LEVEL: 'warn', SEED_DEMO: 'false' });
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}, 60_000);
afterAll(async () => {
  agent.destroy();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  await t.close();
});

it(`returns only resources the token reads, and the visible subset's answer (seed ${SEED})`, async () => {
  const rng = new Rng(SEED);
  const adminToken = await t.authorize(TENANT, 'main');
  const resources = generateDataset(rng);
  await load(MAIN, adminToken, resources);
  const dataset = new Map(resources.map((r) => [`${String(r.resourceType)}/${String(r.id)}`, r]));
  const specs = Array.from({ length: PRINCIPALS }, (_, i) => generatePrincipal(rng, i));
  const searches = specs.map(() => Array.from({ length: QUERIES }, () => generateSearch(rng)));
  const failures: Failure[] = [];
  const expectedRuns = new Map<string, Run>();
  let cases = 0;
  for (const [i, spec] of specs.entries()) {
    const principal = await setUpPrincipal(spec, dataset);
    for (const search of searches[i] ?? []) {
      const cacheKey = `${principal.subset.key}\n${search.type}?${search.query.replace(/&_count=\d+/, '')}`;
      let expected = expectedRuns.get(cacheKey);
      if (!expected) {
        // One page: the union of the matches, and of the includes that are not matches, does not depend on paging.
        expected = await runSearch(principal.subset.base, principal.subset.token, search, true);
        // The administrator's search over the subset must work: anything else is a defect of the generators.
        if (expected.status !== 200) throw new Error(`GET ${search.type}?${search.query} over the subset answered ${expected.status}: ${JSON.stringify(expected.body)}`);
        expectedRuns.set(cacheKey, expected);
      }
      const problems = await checkCase(principal, search, expected);
      if (problems.length > 0) failures.push({ principal: spec, search, problems });
      cases++;
    }
  }
  expect(cases).toBeGreaterThanOrEqual(Math.min(MIN_CASES, PRINCIPALS * QUERIES));
  if (failures.length > 0) throw new Error(report(failures, cases));
}, 600_000);
