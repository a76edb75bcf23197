/**
 * The embedded store's filter predicate must give mingo's answer for every filter and document: the native
 * evaluator only speeds up the shapes it models and hands everything else to mingo. These tests compare both on
 * hand-picked edge cases and on thousands of generated filter/document pairs, including data the native side must
 * decline (arrays inside paths, nested arrays, scalar array elements, objects where scalars are expected).
 */
import { Query } from 'mingo';
import { compileFilterPredicate } from '../../../src/storage/embedded/filter-predicate';
import type { Filter } from '../../../src/storage/ports';

function mingo(filter: Filter, doc: Record<string, unknown>): boolean {
  return new Query(filter, { scriptEnabled: false }).test(doc);
}

function expectSameAnswer(filter: Filter, doc: Record<string, unknown>): void {
  const expected = mingo(filter, doc);
  const actual = compileFilterPredicate(filter).test(doc);
  if (actual !== expected) {
    throw new Error(`filter ${JSON.stringify(filter)} on ${JSON.stringify(doc)}: native ${actual}, mingo ${expected}`);
  }
}

/** A small deterministic PRNG, so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const SCALARS: unknown[] = ['a', 'b', 'B', 'ab', '', '10', '9', 1, 9, 10, 0, -1, 2.5, true, false];
const ODD_VALUES: unknown[] = [null, {}, { a: 1 }, [], ['a', 'b'], [['a']], [1, 'a'], [{ s: 'a', c: 'b' }]];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)] as T;
}

function leafValue(rnd: () => number): unknown {
  const r = rnd();
  if (r < 0.65) return pick(rnd, SCALARS);
  if (r < 0.8) return [pick(rnd, SCALARS), pick(rnd, SCALARS)];
  return pick(rnd, ODD_VALUES);
}

function element(rnd: () => number): unknown {
  const r = rnd();
  if (r < 0.8) {
    const el: Record<string, unknown> = {};
    for (const key of ['s', 'c', 't']) if (rnd() < 0.7) el[key] = leafValue(rnd);
    return el;
  }
  return r < 0.9 ? pick(rnd, SCALARS) : [{ s: 'a', c: 'b' }];
}

function document(rnd: () => number): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const key of ['type', 'lastUpdated', 'x']) if (rnd() < 0.85) doc[key] = leafValue(rnd);
  const index: Record<string, unknown> = {};
  if (rnd() < 0.9) index.code = rnd() < 0.85 ? Array.from({ length: Math.floor(rnd() * 3) }, () => element(rnd)) : element(rnd);
  if (rnd() < 0.5) index.v = leafValue(rnd);
  doc.index = rnd() < 0.9 ? index : [index];
  return doc;
}

function condition(rnd: () => number): unknown {
  const r = rnd();
  const scalar = pick(rnd, SCALARS);
  if (r < 0.3) return scalar;
  if (r < 0.4) return { $eq: scalar };
  if (r < 0.5) return { $in: [pick(rnd, SCALARS), pick(rnd, SCALARS)] };
  if (r < 0.7) return { [pick(rnd, ['$gt', '$gte', '$lt', '$lte'])]: scalar };
  if (r < 0.78) return { $gte: pick(rnd, SCALARS), $lt: pick(rnd, SCALARS) };
  if (r < 0.86) return pick(rnd, [/^a/, /b/i, /^$/]);
  if (r < 0.93) return { $exists: rnd() < 0.5 };
  return { $ne: scalar };
}

function fieldFilter(rnd: () => number): Filter {
  const r = rnd();
  if (r < 0.45) {
    const body: Record<string, unknown> = {};
    for (const key of ['s', 'c', 't']) if (rnd() < 0.5) body[key] = condition(rnd);
    if (Object.keys(body).length === 0) body.c = condition(rnd);
    return { 'index.code': { $elemMatch: body } };
  }
  const path = pick(rnd, ['type', 'lastUpdated', 'x', 'index.v', 'index.code.c', 'index.code.s', 'missing.path']);
  return { [path]: condition(rnd) };
}

function filter(rnd: () => number, depth = 0): Filter {
  const r = rnd();
  if (depth < 2 && r < 0.15) return { $or: [filter(rnd, depth + 1), filter(rnd, depth + 1)] };
  if (depth < 2 && r < 0.3) return { $and: [filter(rnd, depth + 1), filter(rnd, depth + 1)] };
  if (depth < 2 && r < 0.35) return { $nor: [filter(rnd, depth + 1)] };
  const parts = [fieldFilter(rnd)];
  if (rnd() < 0.5) parts.push(fieldFilter(rnd));
  return Object.assign({}, ...parts) as Filter;
}

describe('compileFilterPredicate', () => {
  test.each<[string, Filter, Record<string, unknown>, boolean]>([
    ['top-level equality', { type: 'Observation' }, { type: 'Observation' }, true],
    ['equality against an array element', { uniqueKeys: 'k' }, { uniqueKeys: ['j', 'k'] }, true],
    ['number and string stay apart', { x: 1 }, { x: '1' }, false],
    ['ranges compare only the same type', { lastUpdated: { $lt: '2026' } }, { lastUpdated: 5 }, false],
    ['a missing field is not in any range', { x: { $gte: '' } }, {}, false],
    ['$elemMatch needs one element meeting every condition', { 'index.code': { $elemMatch: { s: 'a', c: 'b' } } }, { index: { code: [{ s: 'a', c: 'x' }, { s: 'y', c: 'b' }] } }, false],
    ['$elemMatch matches an element', { 'index.code': { $elemMatch: { s: 'a', c: 'b' } } }, { index: { code: [{ s: 'y' }, { s: 'a', c: 'b', t: 'z' }] } }, true],
    ['$elemMatch on an object (not an array) does not match', { 'index.code': { $elemMatch: { c: 'b' } } }, { index: { code: { c: 'b' } } }, false],
    ['$elemMatch sub-field holding an array', { 'index.code': { $elemMatch: { c: 'b' } } }, { index: { code: [{ c: ['a', 'b'] }] } }, true],
    ['$elemMatch over scalar elements (mingo decides)', { 'index.code': { $elemMatch: { c: 'b' } } }, { index: { code: ['b'] } }, mingo({ 'index.code': { $elemMatch: { c: 'b' } } }, { index: { code: ['b'] } })],
    ['an array inside the path (mingo decides)', { 'index.code.c': 'b' }, { index: [{ code: { c: 'b' } }] }, true],
    ['$or of native branches', { $or: [{ x: 1 }, { type: 'T' }] }, { type: 'T' }, true],
    ['RegExp on a string', { x: /^ab/ }, { x: 'abc' }, true],
    ['RegExp on an array of strings', { x: /^ab/ }, { x: ['z', 'abc'] }, true],
    ['$in of scalars', { _id: { $in: [] } }, { _id: 'a' }, false],
  ])('%s', (_name, f, doc, expected) => {
    expect(compileFilterPredicate(f).test(doc)).toBe(expected);
    expect(mingo(f, doc)).toBe(expected);
  });

  test('a filter mingo rejects is rejected when compiled', () => {
    expect(() => compileFilterPredicate({ x: { $unknownOperator: 1 } })).toThrow();
  });

  test('gives mingo’s answer on 20,000 generated filter/document pairs', () => {
    const rnd = random(20261123);
    const docs = Array.from({ length: 200 }, () => document(rnd));
    for (let i = 0; i < 100; i++) {
      const f = filter(rnd);
      for (const doc of docs) expectSameAnswer(f, doc);
    }
  });
});
