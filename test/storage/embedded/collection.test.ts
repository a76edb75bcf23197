/**
 * The embedded collection narrows searches with its indexes instead of scanning: these tests check the
 * candidate sets mingo is asked to evaluate (results themselves are covered by the contract suite).
 */
import { ResourceCollection } from '../../../src/storage/embedded/collection';
import type { Filter, ResourceDocument } from '../../../src/storage/ports';

function doc(project: string, type: string, id: string, index: Record<string, unknown>): ResourceDocument {
  return {
    _id: `${project}/${type}/${id}`,
    project,
    type,
    id,
    versionId: 1,
    lastUpdated: '2026-01-01T00:00:00.000Z',
    deleted: false,
    method: 'create',
    index,
    uniqueKeys: [`${type}.id|${id}`],
  };
}

const collection = new ResourceCollection();
for (let i = 0; i < 1000; i++) {
  collection.put(
    doc('p', 'Patient', `pat${i}`, {
      family: `f${i % 100}`,
      name: [`n${i}`, `shared${i % 2}`],
      code: [{ system: 's', code: `c${i % 10}` }],
      age: i,
    }),
  );
}
for (let i = 0; i < 50; i++) collection.put(doc('p', 'Observation', `obs${i}`, { code: [{ system: 's', code: 'c1' }] }));
for (let i = 0; i < 20; i++) collection.put(doc('q', 'Patient', `qpat${i}`, { family: 'f1' }));

const candidates = (filter: Filter): Promise<string[]> => collection.candidates(filter);

describe('ResourceCollection candidates', () => {
  test('an equality on an index field uses the inverted index', async () => {
    const found = await candidates({ project: 'p', type: 'Patient', 'index.family': 'f7' });
    expect(found).toHaveLength(10);
    expect(found.every((id) => id.startsWith('p/Patient/'))).toBe(true);
    expect(await collection.find({ project: 'p', type: 'Patient', 'index.family': 'f7' })).toHaveLength(10);
  });

  test('$in on an array field unions the index entries', async () => {
    expect((await candidates({ project: 'p', 'index.name': { $in: ['n1', 'n2', 'n999'] } })).sort()).toEqual([
      'p/Patient/pat1',
      'p/Patient/pat2',
      'p/Patient/pat999',
    ]);
  });

  test('nested {system, code} values are indexed by dotted path, also through $elemMatch', async () => {
    expect(await candidates({ project: 'p', 'index.code.code': 'c3' })).toHaveLength(100);
    expect(await candidates({ project: 'p', 'index.code': { $elemMatch: { system: 's', code: 'c3' } } })).toHaveLength(100);
  });

  test('id, _id and uniqueKeys are looked up directly', async () => {
    expect(await candidates({ project: 'p', type: 'Patient', id: 'pat5' })).toEqual(['p/Patient/pat5']);
    expect(await candidates({ _id: 'q/Patient/qpat3' })).toEqual(['q/Patient/qpat3']);
    expect(await candidates({ project: 'p', uniqueKeys: 'Observation.id|obs4' })).toEqual(['p/Observation/obs4']);
  });

  test('the most selective predicate wins, including inside $and', async () => {
    expect(await candidates({ $and: [{ project: 'p' }, { 'index.name': 'shared0' }, { 'index.family': 'f3' }] })).toHaveLength(10);
  });

  test('$or narrows when every branch does', async () => {
    expect(await candidates({ project: 'p', $or: [{ 'index.family': 'f1' }, { 'index.family': 'f2' }] })).toHaveLength(40);
    expect(await candidates({ project: 'p', type: 'Patient', $or: [{ 'index.family': 'f1' }, { 'index.age': { $gt: 5 } }] })).toHaveLength(1000);
  });

  test('without a narrowing index predicate the (project, type) partition is used, never other projects', async () => {
    expect(await candidates({ project: 'q', 'index.age': { $gt: 3 } })).toHaveLength(20);
    expect(await candidates({ project: 'p', type: 'Observation', 'resource.status': 'final' })).toHaveLength(50);
    expect(await candidates({ project: 'p' })).toHaveLength(1050);
    expect(await candidates({ project: { $in: ['q', 'none'] }, type: 'Patient' })).toHaveLength(20);
  });

  test('only a filter that names no project scans the whole store', async () => {
    expect(await candidates({ 'index.age': { $gt: 3 } })).toHaveLength(1070);
  });

  test('predicates the index cannot answer exactly are not used to narrow', async () => {
    // positional paths, null (matches missing) and RegExp all fall back to the partition
    expect(await candidates({ project: 'q', 'index.name.0': 'n1' })).toHaveLength(20);
    expect(await candidates({ project: 'q', 'index.family': null })).toHaveLength(20);
    expect(await candidates({ project: 'q', 'index.family': /^f/ })).toHaveLength(20);
  });

  test('replacing and deleting documents updates the indexes', async () => {
    const local = new ResourceCollection();
    local.put(doc('p', 'Patient', 'x', { family: 'old' }));
    local.put({ ...doc('p', 'Patient', 'x', { family: 'new' }), versionId: 2 });
    expect((await local.candidates({ project: 'p', 'index.family': 'old' }))).toEqual([]);
    expect(await local.candidates({ project: 'p', 'index.family': 'new' })).toEqual(['p/Patient/x']);
    expect(local.holderOf('p', 'Patient.id|x')).toBe('p/Patient/x');
    local.put({ ...doc('p', 'Patient', 'x', {}), versionId: 3, deleted: true });
    expect(local.holderOf('p', 'Patient.id|x')).toBeUndefined();
  });

  test('a lower bound on lastUpdated past the newest stored one leaves no candidates', async () => {
    // Every document here has lastUpdated 2026-01-01T00:00:00.000Z.
    expect(await candidates({ project: 'p', lastUpdated: { $gte: '2026-01-01T00:00:00.001Z' } })).toEqual([]);
    expect(await candidates({ project: 'p', $and: [{ lastUpdated: { $gt: '2026-01-01T00:00:00.000Z' } }] })).toEqual([]);
    expect(await candidates({ project: 'p', type: 'Observation', lastUpdated: { $gte: '2026-01-01T00:00:00.000Z' } })).toHaveLength(50);
  });

  test('an index path first searched after documents exist is indexed from them and then kept current', async () => {
    const local = new ResourceCollection();
    for (let i = 0; i < 10; i++) local.put(doc('p', 'Patient', `x${i}`, { tag: [{ c: i % 2 === 0 ? 'even' : 'odd' }] }));
    const even = async (): Promise<string[]> => (await local.candidates({ project: 'p', 'index.tag.c': 'even' })).sort();
    expect(await even()).toEqual(['p/Patient/x0', 'p/Patient/x2', 'p/Patient/x4', 'p/Patient/x6', 'p/Patient/x8']);
    local.put({ ...doc('p', 'Patient', 'x1', { tag: [{ c: 'even' }] }), versionId: 2 });
    local.put({ ...doc('p', 'Patient', 'x0', { tag: [{ c: 'odd' }] }), versionId: 2 });
    local.put(doc('p', 'Patient', 'y', { tag: [{ c: 'even' }, { c: 'odd' }] }));
    expect(await even()).toEqual(['p/Patient/x1', 'p/Patient/x2', 'p/Patient/x4', 'p/Patient/x6', 'p/Patient/x8', 'p/Patient/y']);
    expect(await local.candidates({ project: 'p', 'index.tag.c': 'odd' })).toHaveLength(6);
  });
});


describe('ResourceCollection keyset pages in _id order', () => {
  // A page after a cursor starts the scan at the cursor (binary search); the answer must be exactly what testing
  // every candidate gives, in both directions, with strict and inclusive bounds, and with the bound nested in $and.
  const all = Array.from({ length: 1000 }, (_, i) => `p/Patient/pat${i}`).sort();
  const cases: Array<{ op: '$gt' | '$gte' | '$lt' | '$lte'; dir: 1 | -1 }> = [
    { op: '$gt', dir: 1 },
    { op: '$gte', dir: 1 },
    { op: '$lt', dir: -1 },
    { op: '$lte', dir: -1 },
  ];
  const holds = (op: string, id: string, bound: string): boolean =>
    op === '$gt' ? id > bound : op === '$gte' ? id >= bound : op === '$lt' ? id < bound : id <= bound;

  test.each(cases)('$op with sort _id $dir pages like a full scan', async ({ op, dir }) => {
    for (const bound of [all[0], all[1], all[500], 'p/Patient/pat5', 'p/Patient/pat5x', all[998], all[999], 'p/A', 'p/Z'] as string[]) {
      for (const filter of [
        { project: 'p', type: 'Patient', _id: { [op]: bound } },
        { $and: [{ _id: { [op]: bound } }, { project: 'p', type: 'Patient' }], deleted: false },
        { $and: [{ $and: [{ _id: { [op]: bound } }] }, { project: 'p', type: 'Patient', 'index.family': { $in: ['f1', 'f2'] } }] },
      ] as Filter[]) {
        const page = await collection.find(filter, { sort: [['_id', dir]], limit: 7 });
        const family = (id: string): string => `f${Number(id.slice('p/Patient/pat'.length)) % 100}`;
        const narrowed = JSON.stringify(filter).includes('index.family');
        const expected = (dir === 1 ? all : [...all].reverse())
          .filter((id) => holds(op, id, bound) && (!narrowed || ['f1', 'f2'].includes(family(id))))
          .slice(0, 7);
        expect({ bound, filter, ids: page.map((d) => d._id) }).toEqual({ bound, filter, ids: expected });
      }
    }
  });
});
