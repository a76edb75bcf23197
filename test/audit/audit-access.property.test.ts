/**
 * The audit trail is no side door, as a property (docs/audit.md "Who can read AuditEvents"): for random readers
 * without full access (random SMART system/ scopes, with or without a scope naming AuditEvent, and random
 * rule-engine AccessPolicies that permit AuditEvent through a rule naming it, a rule permitting everything, or not
 * at all) over a store whose AuditEvents were produced by real traffic (a transaction, updates, random principals'
 * searches with includes and chains, refused reads), every AuditEvent a reader gets — by read, vread, search,
 * `_include`, `_revinclude`, history or inside a Bundle — names, in `entity.what`, only resources a direct GET with
 * the same token reads (200), and carries no `entity.query`; a search by `entity=` or `patient=` returns only
 * records that name what was searched for (so a search by something withheld finds nothing); a token whose only
 * AuditEvent scope is a wildcard gets 403.
 *
 * Seeded: `AUDIT_SEED=<seed> npx jest test/audit/audit-access.property.test.ts` replays a run; `AUDIT_READERS`
 * changes its size (default 8).
 */
import { randomInt } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { buildTestApp, clientCredentialsToken, type TestApp } from '../helpers/build-test-app';
import { generateDataset, generatePrincipal, generateSearch, type PrincipalSpec, refsOf, Rng, TYPES } from '../api/access-door-generators';

const SEED = process.env.AUDIT_SEED !== undefined ? Number(process.env.AUDIT_SEED) : randomInt(2 ** 31);
const READERS = Number(process.env.AUDIT_READERS ?? 8);
/** Pages of one search followed at most. */
const PAGES = 3;
const TENANT = 'audit';
const BASE = `/w/${TENANT}/main/api/v1/fhir/r4`;
const FHIR_JSON = 'application/fhir+json';
const REPRODUCE = `AUDIT_SEED=${SEED} npx jest test/audit/audit-access.property.test.ts`;

type Json = Record<string, any>;

let t: TestApp;
let server: http.Server;
const agent = new http.Agent({ keepAlive: true });

const get = (path: string, token: string): request.Test => request(server).get(path.startsWith('/') ? path : `${BASE}/${path}`).agent(agent).set('Authorization', `Bearer ${token}`);

async function put(admin: string, resource: Json): Promise<void> {
  const res = await request(server).put(`${BASE}/${String(resource.resourceType)}/${String(resource.id)}`).agent(agent).set('Authorization', `Bearer ${admin}`).set('Content-Type', FHIR_JSON).send(resource);
  if (res.status >= 300) throw new Error(`PUT ${String(resource.resourceType)}/${String(resource.id)}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}

async function register(admin: string, spec: PrincipalSpec): Promise<string> {
  const secret = `${spec.name}-secret-0123456789`;
  await put(admin, { resourceType: 'ClientApplication', id: spec.name, name: spec.name, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope: spec.scopes.join(' ') });
  for (const [i, policy] of spec.policies.entries()) {
    await put(admin, { resourceType: 'AccessPolicy', id: `${spec.name}-${i}`, name: `${spec.name} ${i}`, target: [{ link: { reference: `ClientApplication/${spec.name}` } }], ...policy });
  }
  return clientCredentialsToken(t.app, TENANT, 'main', spec.name, secret);
}

/** A reader: random data scopes and rules, no full-access policy, and random access to AuditEvent. */
function readerSpec(rng: Rng, index: number): PrincipalSpec & { namesAuditEvent: boolean } {
  const base = generatePrincipal(rng, index);
  const rules = base.policies.flatMap((p) => (p.engine === 'rule-engine' ? (p.rule ?? []) : [{ name: 'everything' }]));
  const auditRule = rng.next();
  if (auditRule < 0.45) rules.push({ name: 'audit trail', target: { expression: "%request.resourceType = 'AuditEvent'" } });
  else if (auditRule < 0.75) rules.push({ name: 'everything' });
  else if (auditRule < 0.85) rules.push({ name: 'audit trail', target: { expression: "%request.resourceType = 'AuditEvent'" } }, { name: 'no refusals', effect: 'deny', target: { expression: "%request.resourceType = 'AuditEvent'" }, condition: { expression: "outcome = '4'" } });
  const scopes = base.scopes.filter((s) => !s.startsWith('system/*'));
  const roll = rng.next();
  let namesAuditEvent = true;
  if (roll < 0.5) scopes.push(`system/AuditEvent.${rng.pick(['rs', 'read', 'cruds', '*'])}`);
  else if (roll < 0.65) scopes.push('system/AuditEvent.rs?outcome=0');
  else {
    namesAuditEvent = false;
    scopes.push(`system/*.${rng.pick(['rs', 'read', '*'])}`);
  }
  return { name: `audit-r${index}`, scopes, policies: [{ engine: 'rule-engine', rule: rules }], namesAuditEvent };
}

/** What one reader got, and what broke. */
class Reader {
  readonly statuses = new Map<string, number>();
  readonly problems: string[] = [];
  events = 0;
  entities = 0;

  constructor(
    readonly spec: PrincipalSpec,
    readonly token: string,
  ) {}

  async status(ref: string): Promise<number> {
    let status = this.statuses.get(ref);
    if (status === undefined) {
      status = (await get(ref, this.token)).status;
      this.statuses.set(ref, status);
    }
    return status;
  }

  /** Checks every AuditEvent of a response body (a resource or a Bundle, nested Bundles included). */
  async check(where: string, body: Json | undefined): Promise<Json[]> {
    const found: Json[] = [];
    const visit = (resource: Json | undefined): void => {
      if (!resource) return;
      if (resource.resourceType === 'AuditEvent') found.push(resource);
      if (resource.resourceType === 'Bundle') for (const entry of (resource.entry ?? []) as Json[]) visit(entry.resource as Json | undefined);
    };
    visit(body);
    for (const event of found) {
      this.events++;
      for (const entity of (event.entity ?? []) as Json[]) {
        if (entity.query !== undefined || entity.role?.code === '24') this.problems.push(`${where}: AuditEvent/${String(event.id)} has a query entity ${JSON.stringify(entity).slice(0, 200)}`);
        const ref = entity.what?.reference as string | undefined;
        if (ref === undefined) continue;
        this.entities++;
        const status = await this.status(ref);
        if (status !== 200) this.problems.push(`${where}: AuditEvent/${String(event.id)} names ${ref}; GET ${ref} with the same token answers ${status}`);
      }
    }
    return found;
  }

  /** Runs a search over its first pages, checking each (a refusal, 403, returns nothing). */
  async search(path: string): Promise<Json[]> {
    const matches: Json[] = [];
    let url: string | undefined = path;
    for (let pages = 0; url && pages < PAGES; pages++) {
      const res = await get(url, this.token);
      if (res.status === 403) return matches;
      if (res.status !== 200) {
        this.problems.push(`GET ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        return matches;
      }
      await this.check(`GET ${path}`, res.body as Json);
      matches.push(...((res.body.entry ?? []) as Json[]).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Json));
      const next = (res.body.link as Json[] | undefined)?.find((l) => l.relation === 'next')?.url as string | undefined;
      url = next ? `${new URL(next).pathname}${new URL(next).search}` : undefined;
    }
    return matches;
  }
}

const names = (event: Json, ref: string): boolean =>
  ((event.entity ?? []) as Json[]).some((e) => e.what?.reference === ref || String(e.what?.reference).startsWith(`${ref}/_history/`));

async function produceTraffic(rng: Rng, admin: string): Promise<void> {
  const resources = generateDataset(rng);
  const entry = resources.map((r) => ({ resource: r, request: { method: 'PUT', url: `${String(r.resourceType)}/${String(r.id)}` } }));
  const loaded = await request(server).post(BASE).agent(agent).set('Authorization', `Bearer ${admin}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Bundle', type: 'transaction', entry });
  if (loaded.status !== 200) throw new Error(`loading: ${loaded.status}`);
  // Second versions whose fields differ from the first (a vread of one may be permitted, of the other not).
  for (const r of resources.filter((x) => x.resourceType === 'Observation' && rng.chance(0.4))) await put(admin, { ...r, status: r.status === 'final' ? 'amended' : 'final' });
  for (let p = 0; p < 4; p++) {
    const spec = generatePrincipal(rng, 100 + p);
    const token = await register(admin, { ...spec, name: `traffic-${p}` });
    for (let i = 0; i < 12; i++) {
      const search = generateSearch(rng);
      await get(`${search.type}?${search.query}`, token);
    }
    for (let i = 0; i < 8; i++) await get(rng.pick(refsOf(rng.pick(TYPES))), token);
  }
  await t.audit.trail?.flush();
}

beforeAll(async () => {
  t = await buildTestApp({ LOG_LEVEL: 'warn', SEED_DEMO: 'false', AUDIT: 'on' });
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}, 60_000);
afterAll(async () => {
  agent.destroy();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  await t.close();
});

it(`hands a reader without full access only AuditEvents naming what it reads, without queries (seed ${SEED})`, async () => {
  const rng = new Rng(SEED);
  const admin = await t.authorize(TENANT, 'main');
  await produceTraffic(rng, admin);
  const stored = await new Reader({ name: 'admin', scopes: [], policies: [] }, admin).search('AuditEvent?_count=500');
  expect(stored.length).toBeGreaterThan(20);
  const storedById = new Map(stored.map((e) => [String(e.id), e]));
  const dataRefs = TYPES.flatMap((type) => refsOf(type));
  const failures: string[] = [];
  let events = 0;
  let entities = 0;
  let withheld = 0;
  let namedReaders = 0;
  for (let i = 0; i < READERS; i++) {
    const spec = readerSpec(rng, i);
    const reader = new Reader(spec, await register(admin, spec));
    if (!spec.namesAuditEvent) {
      for (const path of ['AuditEvent', `AuditEvent/${String(stored[0]?.id)}`, 'AuditEvent/_history']) {
        const { status } = await get(path, reader.token);
        if (status !== 403) reader.problems.push(`GET ${path} with only a wildcard scope for AuditEvent: ${status}, expected 403`);
      }
      await reader.search('?_type=AuditEvent,Patient&_count=50');
      await reader.search('_history?_count=100');
    } else {
      namedReaders++;
      const all = await reader.search('AuditEvent?_count=40');
      for (const event of all) {
        const original = storedById.get(String(event.id));
        if (original) withheld += (original.entity ?? []).length - (event.entity ?? []).length;
      }
      await reader.search('AuditEvent?_include=AuditEvent:entity&_count=15');
      await reader.search(`${rng.pick(TYPES)}?_revinclude=AuditEvent:entity&_count=10`);
      await reader.search('AuditEvent/_history?_count=60');
      await reader.search('_history?_count=100');
      for (let q = 0; q < 4; q++) {
        const ref = rng.pick(dataRefs);
        const param = ref.startsWith('Patient/') && rng.chance(0.5) ? 'patient' : 'entity';
        for (const event of await reader.search(`AuditEvent?${param}=${ref}&_count=25`)) {
          if (!names(event, ref)) reader.problems.push(`AuditEvent?${param}=${ref} returned AuditEvent/${String(event.id)}, which names no ${ref} to this reader`);
        }
        const counted = await get(`AuditEvent?${param}=${ref}&_summary=count`, reader.token);
        if ((await reader.status(ref)) !== 200 && !ref.startsWith('Observation/') && counted.body.total !== 0 && !(counted.status >= 400)) {
          reader.problems.push(`AuditEvent?${param}=${ref}&_summary=count answers ${counted.status} counting ${String(counted.body.total)}, though GET ${ref} answers ${await reader.status(ref)}`);
        }
      }
      const ids = rng.some([...storedById.keys()], 0.1).slice(0, 6);
      for (const id of ids) {
        for (const path of [`AuditEvent/${id}`, `AuditEvent/${id}/_history/1`, `AuditEvent/${id}/_history`]) {
          const res = await get(path, reader.token);
          if (res.status === 200) await reader.check(`GET ${path}`, res.body as Json);
          else if (![403, 404].includes(res.status)) reader.problems.push(`GET ${path}: ${res.status}`);
        }
      }
      const batch = await request(server)
        .post(BASE)
        .agent(agent)
        .set('Authorization', `Bearer ${reader.token}`)
        .set('Content-Type', FHIR_JSON)
        .send({ resourceType: 'Bundle', type: 'batch', entry: [...ids.map((id) => ({ request: { method: 'GET', url: `AuditEvent/${id}` } })), { request: { method: 'GET', url: 'AuditEvent?_count=10' } }] });
      if (batch.status !== 200) reader.problems.push(`batch: ${batch.status}`);
      await reader.check('POST batch', batch.body as Json);
    }
    events += reader.events;
    entities += reader.entities;
    for (const problem of reader.problems) failures.push(`${problem}\n    as ${spec.name} scopes="${spec.scopes.join(' ')}" rules=${JSON.stringify(spec.policies[0]?.rule)}`);
  }
  if (failures.length > 0) throw new Error([`${failures.length} problems (seed ${SEED}); reproduce with: ${REPRODUCE}`, ...failures.slice(0, 12)].join('\n'));
  // Not vacuous: readers got AuditEvents naming resources, and something was withheld from them.
  if (namedReaders >= 3) {
    expect(events).toBeGreaterThan(0);
    expect(entities).toBeGreaterThan(0);
    expect(withheld).toBeGreaterThan(0);
  }
}, 600_000);
