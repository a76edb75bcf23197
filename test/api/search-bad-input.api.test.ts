/**
 * Generated malformed search requests: bad prefixes and dates, operator-shaped names and values, huge values,
 * deep chains, unknown modifiers, bad result controls, broken percent-encoding — against type, system and
 * compartment search, by GET and by POST _search. Each must be answered with a searchset or a 4xx
 * OperationOutcome, never a 5xx; and every filter the store receives may only contain keys the search layer
 * builds (its operators, document fields, search parameter codes from the definitions, index entry fields).
 */
import request from 'supertest';
import { getSearchParameters, RESOURCE_TYPES } from '../../src/fhir/definitions';
import type { Filter, FindOptions } from '../../src/storage/ports';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { type ProjectClient, projectClient } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;
let patientId: string;
const filters: Filter[] = [];

const OPERATORS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$and', '$or', '$nor', '$not', '$elemMatch', '$all', '$size']);
const FIELDS = new Set(['_id', 'id', 'type', 'project', 'deleted', 'lastUpdated', 'index', 'sort', 'n', 'e', 's', 'c', 't', 'r', 'i', 'u', 'lo', 'hi', 'v']);
const CODES = new Set([...RESOURCE_TYPES].flatMap((type) => getSearchParameters(type).map((p) => p.code)));

/** Keys of a filter that the search layer could not have built. */
function foreignKeys(value: unknown, found: string[] = []): string[] {
  if (value instanceof RegExp || value === null || typeof value !== 'object') return found;
  if (Array.isArray(value)) {
    for (const item of value) foreignKeys(item, found);
    return found;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const ok = key.startsWith('$') ? OPERATORS.has(key) : key.split('.').every((part) => FIELDS.has(part) || CODES.has(part));
    if (!ok) found.push(key);
    foreignKeys(child, found);
  }
  return found;
}

// Deterministic PRNG so a failing case reproduces.
let seed = 20240601;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
const enc = encodeURIComponent;

interface Case {
  label: string;
  /** Raw query string (already encoded). */
  query: string;
}

function generate(): Case[] {
  const cases: Case[] = [];
  const add = (label: string, query: string): void => {
    cases.push({ label, query });
  };
  const datePrams = ['birthdate', '_lastUpdated', 'date', 'value-quantity', 'death-date', 'value-date'];
  for (const param of datePrams) {
    for (const prefix of ['xx', 'gtt', 'GT', 'g', 'eqq', '<', '>=', '!', 'ap~', 'ne-', 'lt+']) add('bad prefix', `${param}=${enc(`${prefix}2020-01-01`)}`);
  }
  for (const param of ['birthdate', '_lastUpdated', 'date']) {
    for (const value of ['2020-13-01', '2020-02-30', '20200101', '2020-1-1', '9999999', '2020-01-01T25:00', '2020-01-01T10:00:00+25:00', 'yesterday', 'T', '--', '2020-01-01T10:00:00.1234567890123Z', '0000-00-00', '-2020', '2020-01-01T10:00', 'ge', 'eq']) {
      add('bad date', `${param}=${enc(value)}`);
    }
  }
  const names = ['name[$ne]', 'name[$regex]', '$where', '{"$where":1}', 'name.$ne', '__proto__', 'constructor', 'prototype', '__proto__[polluted]', 'name[__proto__]', '_id[$gt]', 'index.name', 'sort.name', '$or', 'a.b', 'deleted', 'project', 'type', 'name[]', 'toString', 'hasOwnProperty'];
  for (const name of names) for (const value of ['x', '{"$gt":""}']) add('operator-shaped name', `${enc(name)}=${enc(value)}`);
  const values = ['{"$where":1}', '{"$ne":null}', '[$ne]', '.*', '^(a+)+$', '\\', '\u0000', '$where', '{"$gt":""}', 'null', 'undefined', 'true', '[object Object]', '|', '||', 'a|b|c', '$', '\\,', 'Patient/', '/Patient/x', 'http://', 'Patient/$where'];
  for (const param of ['name', '_id', 'identifier', 'subject', 'gender', 'general-practitioner', 'code', 'value-quantity', '_tag', '_profile']) {
    for (const value of values) if (rand() < 0.45) add('operator-shaped value', `${param}=${enc(value)}`);
  }
  for (const [param, value] of [
    ['name', 'a'.repeat(1000)],
    ['name', 'b'.repeat(6000)],
    ['family', '\u00e9'.repeat(1500)],
    ['birthdate', '1'.repeat(3000)],
    ['_id', ','.repeat(2000)],
    ['gender', 'a,'.repeat(1500)],
    ['identifier', `${'s'.repeat(2000)}|${'v'.repeat(2000)}`],
    ['value-quantity', `${'9'.repeat(400)}|x|y`],
    ['_count', '9'.repeat(400)],
    [`${'n'.repeat(3000)}`, 'x'],
  ] as const) {
    add('huge value', `${enc(param)}=${enc(value)}`);
  }
  for (const name of ['subject.a.b.c.d.e.f', 'a.b.c.d.e.f', 'subject:Patient.organization.partof.partof.partof.name', '.name', 'subject.', 'subject..name', 'subject:Patient:Patient.name', '_has:Observation:patient:_has:Observation:patient:code', '_has:::', '_has:Observation', 'subject:$where.name', 'patient.$where', 'general-practitioner.name.family.given', '_has:Observation:patient:subject.name.x.y.z', 'organization.partof.partof.partof.partof.name']) {
    add('deep or broken chain', `${enc(name)}=x`);
  }
  for (const name of ['name:foo', 'gender:bogus', 'birthdate:exact', '_id:missing', 'subject:NotAType', 'name:missing', 'code:in', 'code:below', 'identifier:of-type', 'name:contains:exact', 'gender:not:not', 'general-practitioner:identifier', 'name:', ':', ':missing']) {
    add('unknown modifier', `${enc(name)}=${pick(['x', 'maybe', 'true'])}`);
  }
  for (const value of ['-1', 'abc', '1e9', '99999999999', '1.5', '0x10', ' 5', '5 ', '\uff11', '+1', 'null']) add('bad _count', `_count=${enc(value)}`);
  add('repeated _count', '_count=1&_count=2');
  for (const value of ['$where', '-', '--name', ',', 'name,,', '-$where', 'name:asc', '{"$natural":1}', '_score', '__proto__', 'subject.name', 'a'.repeat(500)]) add('bad _sort', `_sort=${enc(value)}`);
  for (const param of ['_include', '_revinclude', '_include:iterate', '_include:weird', '_revinclude:recurse']) {
    for (const value of ['*:*:*', 'Patient', 'Foo:bar', 'Observation:subject:Foo', '::', '*:subject', ':subject', 'Observation:$where', 'Observation:subject:Patient:extra', '*', 'Patient:*']) {
      add('bad include', `${enc(param)}=${enc(value)}`);
    }
  }
  const forged = (payload: unknown): string => Buffer.from(JSON.stringify(payload)).toString('base64url');
  for (const query of [
    '_summary=bogus',
    '_total=all',
    '_elements=$where',
    `_elements=${enc('name[$ne]')}`,
    '_elements=',
    '_elements=name&_summary=true',
    '_cursor=garbage*',
    `_cursor=${forged({ s: '2020-01-01T00:00:00.000Z', d: 'n', k: [{ $where: '1' }] })}`,
    `_cursor=${forged({ s: { $gt: '' }, d: 'n', k: null })}`,
    `_cursor=${forged({ s: '2020-01-01T00:00:00.000Z', d: 'x', k: null })}`,
    `_cursor=${forged(['a'])}`,
    `_cursor=${forged({ s: '2020-01-01T00:00:00.000Z', d: 'p', k: ['a', 'b', 'c', 'd'] })}`,
    '_type=Foo',
    '_type=$where',
    '_type=Patient,,',
    '_format=xml',
    '_summary=count&_count=abc',
    '_total=none&_total=accurate',
  ]) {
    add('bad control', query);
  }
  for (const query of ['name=%zz', '%zz=1', 'name=%', 'name=%E0%A4%A', '&&&', '=', '==', 'name', '?name=x', 'name=%00', '%24where=1', 'name%5B%24ne%5D=x']) {
    add('broken encoding', query);
  }
  return cases;
}

interface Target {
  method: 'GET' | 'POST';
  path: string;
}

beforeAll(async () => {
  t = await buildTestApp();
  c = await projectClient(t, 'search', 'bad-input');
  patientId = (await c.create({ resourceType: 'Patient', name: [{ family: 'Target' }], birthDate: '1970-01-01' })).id;
  await c.create({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patientId}` } });
  const store = t.storage.resources;
  const search = store.search.bind(store);
  const count = store.count.bind(store);
  store.search = async (filter: Filter, options?: FindOptions) => {
    filters.push(filter);
    return search(filter, options);
  };
  store.count = async (filter: Filter) => {
    filters.push(filter);
    return count(filter);
  };
});
afterAll(async () => {
  await t.close();
});

describe('malformed search requests', () => {
  it('answers at least 500 of them with a searchset or a 4xx OperationOutcome, and no user input reaches a filter key', async () => {
    const targets = (): Target[] => [
      { method: 'GET', path: '/Patient' },
      { method: 'GET', path: '/Observation' },
      { method: 'GET', path: '' },
      { method: 'GET', path: `/Patient/${patientId}/Observation` },
      { method: 'GET', path: `/Patient/${patientId}/*` },
      { method: 'POST', path: '/Patient/_search' },
      { method: 'POST', path: '/_search' },
    ];
    const cases = generate().flatMap((item) => [pick(targets()), pick(targets())].map((target) => ({ ...item, target })));
    expect(cases.length).toBeGreaterThanOrEqual(500);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const { label, query, target } of cases) {
      const url = `${c.base}${target.path}`;
      const res =
        target.method === 'GET'
          ? await t.api.get(`${url}?${query}`)
          : await t.api.post(url).set('Content-Type', 'application/x-www-form-urlencoded').send(query);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const body = res.body as { resourceType?: string; type?: string; issue?: unknown[] };
      const ok =
        (res.status === 200 && body.resourceType === 'Bundle' && body.type === 'searchset') ||
        (res.status >= 400 && res.status < 500 && body.resourceType === 'OperationOutcome' && Array.isArray(body.issue));
      if (!ok) failures.push(`${label}: ${target.method} ${target.path}?${query.slice(0, 100)} → ${res.status}`);
    }
    expect(failures).toEqual([]);
    expect(statuses.get(200)).toBeGreaterThan(50);
    expect(statuses.get(400)).toBeGreaterThan(50);
    expect(filters.length).toBeGreaterThan(500);
    const foreign = new Set(filters.flatMap((f) => foreignKeys(f)));
    expect([...foreign]).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('would notice a user-supplied key in a filter', () => {
    expect(foreignKeys({ $and: [{ 'index.name': { $elemMatch: { n: /x/ } } }, { 'name[$ne]': 'x' }, { $where: '1' }] })).toEqual(['name[$ne]', '$where']);
  });
});
