/**
 * 2,000 generated JSON Patch documents sent over HTTP with a real admin token: valid operations on paths that
 * exist, random operations, edge-case paths (`""`, `/id`, `/meta/versionId`, `/resourceType`, `-`, huge and
 * zero-padded indexes, `~` escapes, `__proto__`, `constructor/prototype`, inherited members), random values,
 * missing members, non-array bodies. For every response: never a 5xx; every 4xx is an OperationOutcome; after
 * every refused patch the stored resource is exactly what it was; after an accepted one it is what the response
 * says. Object.prototype is untouched at the end.
 *
 * Seeded and reproducible: the seed is random per run unless `PATCH_SEED` is set; it is printed, and every failure
 * report starts with the command that reproduces it (`PATCH_SEED=<seed> npx jest test/api/json-patch-fuzz`).
 * `PATCH_CASES` changes the number of patches (default 2,000).
 */
import { randomInt } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { seededRandom } from '../helpers/seeded-random';

const SEED = process.env.PATCH_SEED !== undefined ? parseSeed(process.env.PATCH_SEED) : randomInt(2 ** 31);
const CASES = Number(process.env.PATCH_CASES ?? 2000);
const REPRODUCE = `PATCH_SEED=${SEED} npx jest test/api/json-patch-fuzz`;
const TARGETS = 8;
const FHIR_JSON = 'application/fhir+json';

function parseSeed(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) >= 2 ** 32) throw new Error(`PATCH_SEED must be an integer in [0, 2^32): '${text}'`);
  return Number(text);
}

/** mulberry32: small, deterministic. */
class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const seedPatient = (id: string): Record<string, Json> => ({
  resourceType: 'Patient',
  id,
  active: true,
  gender: 'female',
  birthDate: '1867-11-07',
  name: [{ family: 'Curie', given: ['Marie', 'Salomea'] }, { family: 'Skłodowska', use: 'maiden' }],
  telecom: [{ system: 'email', value: 'marie@example.org' }],
  identifier: [{ system: 'urn:example:mrn', value: 'MRN-1' }],
});

const EDGE_PATHS = [
  '', '/', '/id', '/meta', '/meta/versionId', '/meta/lastUpdated', '/meta/tag', '/meta/tag/-', '/resourceType',
  '/__proto__', '/__proto__/polluted', '/constructor', '/constructor/prototype', '/constructor/prototype/polluted',
  '/toString', '/hasOwnProperty', '/name/__proto__', '/name/length', '/name/-', '/name/-/family', '/name/0/given/-',
  '/name/99999999999', '/name/4294967296', '/name/01', '/name/-1', '/name/1e3', '/name/ 0', '/name/0x1',
  '/a~0b', '/a~1b', '/a~2b', '/a~', '/~', '/~01', '/name/0/given/~1', 'name', 'name/0', '//', '/nope/deep/er',
  '/birthDate/x', '/active/0', '/telecom/0/value', '/identifier/0', '/name/1/use',
];

const VALUES: Json[] = [
  null, true, false, 0, -1, 1.5, 1e308, '', 'x', 'female', '2000-01-01', 'not-a-date', '1', [], [1, 2], {},
  { family: 'Doe' }, { family: 'Doe', given: ['Jane'] }, [{ family: 'Doe' }], { system: 'phone', value: '555' },
  { url: 'http://example.org/ext', valueString: 'v' }, { versionId: '9' }, 'Observation', 'other-id',
  { resourceType: 'Patient' }, 'a'.repeat(300),
];

/** Every pointer in a document, to aim most operations at paths that exist. */
function pointers(value: Json, prefix = '', out: string[] = []): string[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((item, i) => pointers(item, `${prefix}/${i}`, out));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) pointers(item, `${prefix}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
  }
  return out;
}

function randomValue(rng: Rng, doc: Json, existing: string[]): Json {
  const roll = rng.next();
  if (roll < 0.15) {
    // A value taken from the document itself (often valid where it came from).
    const pointer = rng.pick(existing);
    let value: Json | undefined = doc;
    for (const token of pointer.split('/').slice(1)) value = value && typeof value === 'object' ? (value as Record<string, Json>)[token.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
  }
  if (roll < 0.2) return JSON.parse('{"__proto__":{"polluted":true}}') as Json;
  if (roll < 0.25) return { resourceType: 'Patient', id: rng.pick(['fz-0', 'fz-1', 'other']), gender: rng.pick(['male', 'female', 'bad']) };
  return rng.pick(VALUES);
}

function randomPath(rng: Rng, existing: string[]): Json | undefined {
  const roll = rng.next();
  if (roll < 0.55) return rng.pick(existing);
  if (roll < 0.65) return `${rng.pick(existing)}/${rng.pick(['-', '0', '1', '5', 'x', 'given', '__proto__'])}`;
  if (roll < 0.92) return rng.pick(EDGE_PATHS);
  if (roll < 0.95) return `/${Array.from({ length: rng.int(8) }, () => rng.pick([...'abcxyz019-~/_'])).join('')}`;
  return rng.pick([undefined, null, 5, true, ['/id'], { p: '/id' }] as Array<Json | undefined>);
}

function randomOperation(rng: Rng, doc: Json, existing: string[]): Json {
  const op = rng.chance(0.9)
    ? rng.pick(['add', 'remove', 'replace', 'move', 'copy', 'test'])
    : rng.pick<Json | undefined>(['jump', '_get', 'toString', '__proto__', 'constructor', '', 'ADD', 5, null, undefined]);
  const operation: Record<string, Json> = {};
  if (op !== undefined) operation.op = op;
  const path = randomPath(rng, existing);
  if (path !== undefined && !rng.chance(0.02)) operation.path = path;
  if ((op === 'move' || op === 'copy' || rng.chance(0.05)) && !rng.chance(0.05)) {
    const from = randomPath(rng, existing);
    if (from !== undefined) operation.from = from;
  }
  if ((op === 'add' || op === 'replace' || op === 'test' || rng.chance(0.05)) && !rng.chance(0.05)) operation.value = randomValue(rng, doc, existing);
  if (rng.chance(0.03)) operation.extra = 'ignored member';
  return rng.chance(0.01) ? [operation] : operation;
}

/** Operations that are valid on any document the run produces (given what it holds). */
function validOperation(rng: Rng, doc: Record<string, Json>): Record<string, unknown> {
  const names = Array.isArray(doc.name) ? doc.name.length : 0;
  const choices: Array<() => Record<string, unknown>> = [
    () => ({ op: doc.active === undefined ? 'add' : 'replace', path: '/active', value: rng.chance(0.5) }),
    () => ({ op: 'add', path: '/gender', value: rng.pick(['male', 'female', 'other', 'unknown']) }),
    () => ({ op: 'add', path: '/birthDate', value: rng.pick(['1900-01-01', '1867-11-07', '2001-02']) }),
    () => (names < 6 ? { op: 'add', path: rng.chance(0.5) ? '/name/-' : '/name/0', value: { family: rng.pick(['Doe', 'Roe', 'Poe']) } } : { op: 'remove', path: '/name/0' }),
    () => (names > 0 ? { op: 'add', path: `/name/${rng.int(names)}/given`, value: ['A', 'B'] } : { op: 'add', path: '/name', value: [{ family: 'New' }] }),
    () => (names > 1 ? { op: 'move', from: `/name/${rng.int(names)}`, path: `/name/${rng.int(names)}` } : { op: 'test', path: '/id', value: doc.id as Json }),
    () => (names > 0 && names < 6 ? { op: 'copy', from: `/name/${rng.int(names)}`, path: '/name/-' } : { op: 'test', path: '/resourceType', value: 'Patient' }),
    () => (doc.telecom !== undefined ? { op: 'remove', path: '/telecom' } : { op: 'add', path: '/telecom', value: [{ system: 'email', value: 'x@example.org' }] }),
    () => ({ op: 'test', path: '/meta/versionId', value: (doc.meta as Record<string, Json>).versionId as Json }),
  ];
  return rng.pick(choices)();
}

/** A patch body as sent on the wire. */
function randomBody(rng: Rng, doc: Json): string {
  const roll = rng.next();
  if (roll < 0.03) return rng.pick(['{}', '{"op":"remove","path":""}', '"x"', '5', 'null', 'true']);
  if (roll < 0.05) return '[]';
  if (roll < 0.3) {
    // Plausible operations computed from the current document (a later one may no longer apply after an earlier one).
    return JSON.stringify(Array.from({ length: 1 + rng.int(3) }, () => validOperation(rng, doc as Record<string, Json>)));
  }
  const existing = pointers(doc);
  const ops: Json[] = [];
  if (rng.chance(0.15)) ops.push({ op: 'test', path: '/meta/versionId', value: rng.chance(0.8) ? ((doc as { meta: { versionId: string } }).meta.versionId as Json) : '0' });
  const count = 1 + rng.int(rng.chance(0.9) ? 4 : 12);
  for (let i = 0; i < count; i++) ops.push(randomOperation(rng, doc, existing));
  return JSON.stringify(ops);
}

let t: TestApp;
let server: http.Server;
const agent = new http.Agent({ keepAlive: true });

beforeAll(async () => {
  console.log(`JSON Patch fuzz seed ${SEED} (${CASES} patches); reproduce: ${REPRODUCE}`);
  t = await buildTestApp({ SEED_DEMO: 'false' });
  server = t.app.listen(0);
});
afterAll(async () => {
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

const path = (id: string) => `${t.base}/Patient/${id}`;
const auth = (test: request.Test) => test.agent(agent).set('Authorization', `Bearer ${t.adminToken}`);

async function put(id: string, resource: Record<string, Json>): Promise<Record<string, Json>> {
  const res = await auth(request(server).put(path(id))).set('Content-Type', FHIR_JSON).send(resource);
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${id}: ${res.status}`);
  return res.body as Record<string, Json>;
}

describe('JSON Patch fuzz', () => {
  it(`answers ${CASES} generated patches (seed ${SEED}) without a 5xx; refused ones change nothing`, async () => {
    const rng = new Rng(SEED);
    const ids = Array.from({ length: TARGETS }, (_, i) => `fz-${i}`);
    const current = new Map<string, Record<string, Json>>();
    for (const id of ids) current.set(id, await put(id, seedPatient(id)));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    while (sent < CASES) {
      // One patch per target in flight at a time, so each refusal can be checked against its target's last state.
      const batch = ids.slice(0, Math.min(TARGETS, CASES - sent)).map((id) => ({ id, body: randomBody(rng, current.get(id) as Json) }));
      sent += batch.length;
      await Promise.all(
        batch.map(async ({ id, body }) => {
          const res = await auth(request(server).patch(path(id))).set('Content-Type', 'application/json-patch+json').send(body);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const fail = (why: string) => failures.push(`${REPRODUCE}: PATCH ${id} ${body.slice(0, 300)} → ${res.status} ${why}`);
          const after = await auth(request(server).get(path(id)));
          if (res.status >= 500) fail(JSON.stringify(res.body).slice(0, 300));
          else if (res.status >= 400) {
            const issues = res.body?.issue as Array<{ code?: unknown; diagnostics?: unknown }> | undefined;
            if (res.body?.resourceType !== 'OperationOutcome' || !Array.isArray(issues) || issues.length === 0 || typeof issues[0]?.code !== 'string') fail('not an OperationOutcome');
            if (JSON.stringify(after.body) !== JSON.stringify(current.get(id))) fail(`changed the stored resource: ${JSON.stringify(after.body).slice(0, 300)}`);
          } else if (res.status === 200) {
            if (JSON.stringify(after.body) !== JSON.stringify(res.body)) fail('stored something other than the response');
            current.set(id, after.body as Record<string, Json>);
            // Keep documents small: start over once one has grown.
            if (JSON.stringify(after.body).length > 8000) current.set(id, await put(id, seedPatient(id)));
          } else fail('unexpected status');
        }),
      );
    }
    console.log(`JSON Patch fuzz seed ${SEED}: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    // The generator reaches every kind of answer.
    for (const status of [200, 400, 422]) expect(statuses.get(status) ?? 0).toBeGreaterThan(CASES / 50);
  });
});
