/**
 * Sends hundreds of generated malformed requests (broken JSON, wrong types, huge strings, deep nesting, bad
 * ids, bad headers, bad patches, bad parameters) and checks that each gets a 4xx OperationOutcome — never a
 * 5xx — and that nothing stored before is changed and nothing new is stored.
 */
import type { Server } from 'node:http';
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { seededRandom as prng } from '../helpers/seeded-random';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;
let server: Server;

interface BadRequest {
  label: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

const PROTECTED = ['keep-1', 'keep-2', 'keep-3'];
const goodPatient = (id: string) => ({ resourceType: 'Patient', id, name: [{ family: 'Stable', given: ['Data'] }], birthDate: '1970-01-01', active: true });

function generate(rand: () => number, base: string, limit: number): BadRequest[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const id = () => pick(PROTECTED);
  const out: BadRequest[] = [];
  const wrongTypes: Array<[string, unknown]> = [
    ['birthDate', 123], ['birthDate', true], ['birthDate', {}], ['birthDate', 'not-a-date'], ['birthDate', '2020-13-45'],
    ['active', 'yes'], ['active', 1], ['active', null], ['active', []], ['name', 'Smith'], ['name', 5], ['name', [5]],
    ['name', [{ given: 'not-an-array' }]], ['gender', 'robot'], ['gender', 7], ['telecom', [{ system: 'pager-ish' }]],
    ['resourceType', 5], ['resourceType', 'Observation'], ['unknownElement', 'x'], ['id', 'other-id'], ['meta', 'x'],
    ['extension', [{ valueString: 'no url' }]], ['contained', 'nope'], ['link', [{ type: 'seealso' }]],
  ];
  const badIds = ['..', 'id with space', 'é', 'x'.repeat(65), '%00', 'a_b', '%2F', '*', '$op'];
  for (let i = 0; i < 560; i++) {
    const kind = i % 8;
    const target = id();
    if (kind === 0) {
      const json = JSON.stringify(goodPatient(target));
      const cut = 1 + Math.floor(rand() * (json.length - 1));
      const variants = [json.slice(0, cut), `${json.slice(0, cut)}\u0000${json.slice(cut)}`, json.replace(/"/g, "'"), `${json},`, '{]', '', 'null', '[1,2', '\uFEFF\uFEFF{'];
      out.push({ label: 'broken JSON', method: pick(['POST', 'PUT'] as const), path: `${base}/Patient${rand() < 0.5 ? '' : `/${target}`}`, headers: { 'Content-Type': FHIR_JSON }, body: pick(variants) });
    } else if (kind === 1) {
      const [field, value] = pick(wrongTypes);
      const body = { ...goodPatient(target), [field]: value };
      out.push({ label: `wrong type ${field}`, method: 'PUT', path: `${base}/Patient/${target}`, headers: { 'Content-Type': FHIR_JSON }, body: JSON.stringify(body) });
    } else if (kind === 2) {
      const size = pick([limit + 1, limit * 2, Math.floor(limit / 2)]);
      const body = { ...goodPatient(target), gender: 'x'.repeat(size) };
      out.push({ label: `huge string ${size}`, method: pick(['POST', 'PUT'] as const), path: `${base}/Patient${rand() < 0.5 ? '' : `/${target}`}`, headers: { 'Content-Type': FHIR_JSON }, body: JSON.stringify(body).replace('"resourceType":"Patient",', rand() < 0.5 ? '"resourceType":"Patient",' : '"resourceType":"Patient","id":"x",') });
    } else if (kind === 3) {
      const depth = 65 + Math.floor(rand() * 2000);
      const nested = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      const body = `{"resourceType":"Patient","id":"${target}","extension":${nested}}`;
      out.push({ label: `deep nesting ${depth}`, method: 'PUT', path: `${base}/Patient/${target}`, headers: { 'Content-Type': FHIR_JSON }, body });
    } else if (kind === 4) {
      const bad = pick(badIds);
      const method = pick(['GET', 'PUT', 'DELETE', 'PATCH'] as const);
      out.push({ label: `bad id ${bad}`, method, path: `${base}/Patient/${encodeURIComponent(bad)}`, headers: { 'Content-Type': method === 'PATCH' ? 'application/json-patch+json' : FHIR_JSON }, body: method === 'PATCH' ? '[]' : method === 'PUT' ? JSON.stringify({ ...goodPatient(target), id: bad }) : undefined });
    } else if (kind === 5) {
      const variant: Record<string, string> = pick<Record<string, string>>([
        { 'Content-Type': 'text/plain' }, { 'Content-Type': 'application/xml' }, { 'Content-Type': 'application/fhir+json; charset=latin1' },
        { 'Content-Type': FHIR_JSON, 'If-Match': pick(['garbage', 'W/"0"', '"-1"', 'W/"999"', '*', 'W/"1", W/"2"']) },
        { 'Content-Type': 'multipart/form-data; boundary=x' }, { 'Content-Type': FHIR_JSON, 'Content-Encoding': 'br-unknown' },
      ]);
      out.push({ label: `bad header ${JSON.stringify(variant)}`, method: 'PUT', path: `${base}/Patient/${target}`, headers: variant, body: JSON.stringify({ ...goodPatient(target), gender: 'female' }) });
    } else if (kind === 6) {
      const patch = pick([
        '{"op":"replace"}', '[{"op":"replace","path":"/birthDate","value":"nope"}]', '[{"op":"remove","path":"/resourceType"}]',
        '[{"op":"add","path":"/__proto__/polluted","value":1}]', '[{"op":"test","path":"/active","value":false}]', '[{"op":"copy","from":"/nowhere","path":"/x"}]',
        '[{"op":"replace","path":"/id","value":"changed"}]', '[{"op":"add","path":"/unknown","value":1}]', '[{"op":"remove","path":"/name/7"}]', '[null]', '[{"path":"/a"}]',
      ]);
      out.push({ label: `bad patch ${patch}`, method: 'PATCH', path: `${base}/Patient/${target}`, headers: { 'Content-Type': 'application/json-patch+json' }, body: patch });
    } else {
      const query = pick(['_count=abc', '_count=-5', '_since=tomorrow', '_since=2020-02-30T25:00:00Z', '_format=xml', '_format=text/turtle', '_count=1&_count=2', '_offset=x']);
      const path = pick([`${base}/_history`, `${base}/Patient/_history`, `${base}/Patient/${target}/_history`]);
      out.push({ label: `bad query ${query}`, method: 'GET', path: `${path}?${query}`, headers: { Accept: rand() < 0.2 ? 'application/fhir+xml' : FHIR_JSON } });
      out.push({ label: 'read asking for XML', method: 'GET', path: `${base}/Patient/${target}${rand() < 0.5 ? '?_format=xml' : ''}`, headers: { Accept: 'application/fhir+xml' } });
    }
  }
  return out;
}

beforeAll(async () => {
  t = await buildTestApp({ BODY_LIMIT: '16kb' });
  server = t.app.listen(0);
  for (const id of PROTECTED) {
    await request(server).put(`${t.base}/Patient/${id}`).set('Authorization', `Bearer ${t.adminToken}`).set('Content-Type', FHIR_JSON).send(goodPatient(id)).expect(201);
  }
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

describe('malformed requests', () => {
  it('answers at least 500 generated malformed requests with 4xx OperationOutcomes and changes nothing', async () => {
    const before = await request(server).get(`${t.base}/_history`).set('Authorization', `Bearer ${t.adminToken}`);
    const snapshots = await Promise.all(PROTECTED.map((id) => request(server).get(`${t.base}/Patient/${id}`).set('Authorization', `Bearer ${t.adminToken}`)));
    const cases = generate(prng(20261122), t.base, t.config.bodyLimitBytes);
    expect(cases.length).toBeGreaterThanOrEqual(500);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const c of cases) {
      let req = request(server)[c.method.toLowerCase() as 'get'](c.path).set('Authorization', `Bearer ${t.adminToken}`);
      for (const [name, value] of Object.entries(c.headers ?? {})) req = req.set(name, value);
      const res = c.body === undefined ? await req : await req.send(c.body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const isOutcome = res.body?.resourceType === 'OperationOutcome';
      if (res.status < 400 || res.status >= 500 || !isOutcome) failures.push(`${c.label} ${c.method} ${c.path.slice(0, 80)} → ${res.status}`);
    }
    expect(failures).toEqual([]);
    // Every class of client error was exercised.
    for (const status of [400, 404, 406, 412, 413, 415, 422]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);

    const after = await request(server).get(`${t.base}/_history`).set('Authorization', `Bearer ${t.adminToken}`);
    expect(after.body.total).toBe(before.body.total);
    for (const [i, id] of PROTECTED.entries()) {
      const now = await request(server).get(`${t.base}/Patient/${id}`).set('Authorization', `Bearer ${t.adminToken}`);
      expect(now.body).toEqual(snapshots[i]?.body);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
