/**
 * The element indexes answer `$elemMatch` equalities exactly (counts without testing documents, `_id`-ordered
 * pages that stop early). These tests compare the collection's answers with mingo over every document, before and
 * after the indexes exist, after updates, deletions and irregular data, so a stale or inexact posting shows up as a
 * different count or page.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Query } from 'mingo';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { ResourceCollection } from '../../../src/storage/embedded/collection';
import { sortDocuments } from '../../../src/storage/embedded/sort-order';
import type { Filter, ResourceDocument } from '../../../src/storage/ports';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const rnd = random(7);
const pick = <T,>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
const SYSTEMS = ['http://loinc.org', 'http://snomed.info/sct'];
const CODES = ['a', 'b', 'c', 'd'];
let version = 0;

function observation(project: string, id: string, deleted = false): ResourceDocument {
  const code = Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => (rnd() < 0.2 ? { c: pick(CODES) } : { s: pick(SYSTEMS), c: pick(CODES) }));
  return {
    _id: `${project}/Observation/${id}`,
    project,
    type: 'Observation',
    id,
    versionId: ++version,
    lastUpdated: new Date(Date.UTC(2026, 0, 1) + version).toISOString(),
    deleted,
    method: deleted ? 'delete' : 'update',
    ...(deleted ? {} : { index: { code, status: [{ c: pick(['final', 'amended']) }] } }),
  };
}

function filters(project: string): Filter[] {
  const out: Filter[] = [];
  for (const s of SYSTEMS) for (const c of CODES) out.push({ project, type: 'Observation', deleted: false, 'index.code': { $elemMatch: { s, c } } });
  for (const c of CODES) out.push({ project, type: 'Observation', deleted: false, 'index.code': { $elemMatch: { c } } });
  out.push({ project, type: { $in: ['Observation', 'Patient'] }, deleted: false, 'index.code': { $elemMatch: { c: 'a' } } });
  out.push({ project, type: 'Observation', deleted: false, $and: [{ 'index.code': { $elemMatch: { c: 'a' } } }, { 'index.status': { $elemMatch: { c: 'final' } } }] });
  out.push({ project, type: 'Observation', deleted: false, 'index.code': { $elemMatch: { s: SYSTEMS[0], c: 'b', x: { $exists: false } } } });
  out.push({ $and: [{ lastUpdated: { $lt: '2026-01-01T00:00:00.100Z' } }, { type: 'Observation', 'index.code': { $elemMatch: { c: 'c' } } }], project, deleted: false });
  return out;
}

async function expectMingoAnswers(collection: ResourceCollection, project: string): Promise<void> {
  const all = [...collection.values()];
  for (const filter of filters(project)) {
    const query = new Query(filter);
    const matching = all.filter((doc) => query.test(doc as unknown as Record<string, unknown>));
    const label = JSON.stringify(filter);
    expect([label, await collection.count(filter)]).toEqual([label, matching.length]);
    for (const direction of [1, -1] as const) {
      const expected = sortDocuments(matching, [['_id', direction]]).slice(2, 7).map((d) => d._id);
      const page = (await collection.find(filter, { sort: [['_id', direction]], skip: 2, limit: 5 })).map((d) => d._id);
      expect([label, page]).toEqual([label, expected]);
    }
  }
}

describe('element indexes', () => {
  test('answer like mingo while documents are created, updated and deleted', async () => {
    const collection = new ResourceCollection();
    for (let i = 0; i < 300; i++) collection.put(observation('p', `o${i}`));
    for (let i = 0; i < 50; i++) collection.put(observation('q', `o${i}`));
    await expectMingoAnswers(collection, 'p'); // defines the indexes from the stored documents
    for (let i = 0; i < 300; i += 3) collection.put(observation('p', `o${i}`)); // updates
    for (let i = 1; i < 300; i += 7) collection.put(observation('p', `o${i}`, true)); // deletions
    for (let i = 300; i < 340; i++) collection.put(observation('p', `o${i}`)); // creations
    await expectMingoAnswers(collection, 'p');
    await expectMingoAnswers(collection, 'q');
  });

  test('step aside while a document holds data they do not model', async () => {
    const collection = new ResourceCollection();
    for (let i = 0; i < 100; i++) collection.put(observation('p', `o${i}`));
    await expectMingoAnswers(collection, 'p');
    const odd = observation('p', 'odd');
    // A scalar array element and a nested array: mingo's $elemMatch answers are left to mingo.
    collection.put({ ...odd, index: { code: ['a', { s: SYSTEMS[0], c: [['a']] }, { s: SYSTEMS[0], c: ['b', 'a'] }] } });
    await expectMingoAnswers(collection, 'p');
    collection.put(observation('p', 'odd'));
    await expectMingoAnswers(collection, 'p');
  });

  test('count a covered filter from the postings and see later writes in pages', async () => {
    const collection = new ResourceCollection();
    const filter = { project: 'p', type: 'Observation', deleted: false, 'index.code': { $elemMatch: { s: 'sys', c: 'x' } } };
    const doc = (id: string, c: string, deleted = false): ResourceDocument => ({
      _id: `p/Observation/${id}`, project: 'p', type: 'Observation', id, versionId: 1, lastUpdated: '2026-01-01T00:00:00.000Z',
      deleted, method: 'create', index: { code: [{ s: 'sys', c }] },
    });
    collection.put(doc('b', 'x'));
    expect(await collection.count(filter)).toBe(1);
    collection.put(doc('a', 'x'));
    collection.put(doc('c', 'y'));
    expect(await collection.count(filter)).toBe(2);
    expect((await collection.find(filter, { sort: [['_id', 1]], limit: 10 })).map((d) => d.id)).toEqual(['a', 'b']);
    collection.put(doc('a', 'y'));
    collection.put(doc('0', 'x'));
    expect((await collection.find(filter, { sort: [['_id', 1]], limit: 10 })).map((d) => d.id)).toEqual(['0', 'b']);
    collection.put(doc('b', 'x', true));
    expect(await collection.count(filter)).toBe(1);
    expect((await collection.find(filter, { sort: [['_id', -1]], limit: 10 })).map((d) => d.id)).toEqual(['0']);
  });

  test('are rebuilt from the journal after a restart and follow writes made after it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'element-index-'));
    const filter = { project: 'p', type: 'Observation', deleted: false, 'index.code': { $elemMatch: { s: 'sys', c: 'x' } } };
    const version = (id: string, versionId: number, c: string, deleted = false) => ({
      project: 'p', type: 'Observation', id, versionId, lastUpdated: `2026-01-01T00:00:0${versionId}.000Z`, deleted,
      method: deleted ? ('delete' as const) : ('create' as const), ...(deleted ? {} : { index: { code: [{ s: 'sys', c }] } }),
    });
    try {
      let storage = await openEmbeddedStorage({ dataDir });
      await storage.resources.write([1, 2, 3].map((n) => ({ doc: version(`o${n}`, 1, 'x'), expectedVersion: 0 })));
      expect(await storage.resources.count(filter)).toBe(3); // defines the index
      await storage.resources.write([{ doc: version('o2', 2, 'y'), expectedVersion: 1 }, { doc: version('o3', 2, 'x', true), expectedVersion: 1 }]);
      expect(await storage.resources.count(filter)).toBe(1);
      await storage.close();
      storage = await openEmbeddedStorage({ dataDir });
      expect(await storage.resources.count(filter)).toBe(1);
      await storage.resources.write([{ doc: version('o4', 1, 'x'), expectedVersion: 0 }, { doc: version('o2', 3, 'x'), expectedVersion: 2 }]);
      expect(await storage.resources.count(filter)).toBe(3);
      const page = await storage.resources.search(filter, { sort: [['_id', -1]], limit: 2 });
      expect(page.map((d) => d.id)).toEqual(['o4', 'o2']);
      await storage.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
