import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compareKeys, documentKey, keysetFilter, reverseSort } from '../../../src/fhir/search/keyset';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import type { ResourceDocument, Sort, Storage } from '../../../src/storage/ports';

let storage: Storage;
let dir: string;
const PROJECT = 'keyset/test';

// Deterministic PRNG so a failure reproduces.
let seed = 42;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

const NAMES = [undefined, 'a', 'B', 'b', 'é', 'zz', '\u{1F600}', 'a b', ''];
const NUMBERS = [undefined, -1, 0, 0.5, 2, 10];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'keyset-'));
  storage = await openEmbeddedStorage({ dataDir: dir });
  for (let i = 0; i < 60; i++) {
    const sort: Record<string, unknown> = {};
    const name = pick(NAMES);
    const n = pick(NUMBERS);
    if (name !== undefined) sort.name = name;
    if (n !== undefined) sort.n = n;
    await storage.resources.write([
      {
        expectedVersion: 0,
        doc: {
          project: PROJECT,
          type: 'Patient',
          id: `p${String(i).padStart(2, '0')}`,
          versionId: 1,
          lastUpdated: new Date(1_700_000_000_000 + Math.floor(rand() * 5) * 1000).toISOString(),
          deleted: false,
          method: 'create',
          resource: { resourceType: 'Patient', id: `p${i}` },
          sort,
        },
      },
    ]);
  }
});
afterAll(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

const SORTS: Sort[] = [
  [['_id', 1]],
  [['sort.name', 1], ['_id', 1]],
  [['sort.name', -1], ['_id', 1]],
  [['sort.n', -1], ['sort.name', 1], ['_id', 1]],
  [['lastUpdated', 1], ['sort.n', 1], ['_id', 1]],
];

describe('keyset paging arithmetic', () => {
  it('orders keys in memory exactly as the store sorts documents', async () => {
    for (const sort of SORTS) {
      const docs = await storage.resources.search({ project: PROJECT }, { sort });
      expect(docs).toHaveLength(60);
      const keys = docs.map((d) => documentKey(sort, d));
      for (let i = 1; i < keys.length; i++) expect(compareKeys(sort, keys[i - 1] as never, keys[i] as never)).toBeLessThan(0);
    }
  });

  it('selects exactly the documents after or before a key, for every key and sort', async () => {
    for (const sort of SORTS) {
      const all = await storage.resources.search({ project: PROJECT }, { sort });
      for (const pivot of all) {
        const key = documentKey(sort, pivot);
        const after = await storage.resources.search({ $and: [{ project: PROJECT }, keysetFilter(sort, key, 'next')] }, { sort });
        const before = await storage.resources.search({ $and: [{ project: PROJECT }, keysetFilter(sort, key, 'previous')] }, { sort: reverseSort(sort) });
        const index = all.findIndex((d) => d._id === pivot._id);
        expect(after.map((d) => d._id)).toEqual(all.slice(index + 1).map((d) => d._id));
        expect(before.map((d) => d._id)).toEqual(all.slice(0, index).reverse().map((d) => d._id));
      }
    }
  });

  it('reads a history row key with the current document _id', () => {
    const sort: Sort = [['sort.name', 1], ['_id', 1]];
    const row = { _id: 'p/Patient/x/3', sort: { name: 'k' } } as unknown as ResourceDocument;
    expect(documentKey(sort, row, 'p/Patient/x')).toEqual(['k', 'p/Patient/x']);
    expect(documentKey(sort, { _id: 'y', sort: { name: ['array'] } } as unknown as ResourceDocument)).toEqual([null, 'y']);
  });
});
