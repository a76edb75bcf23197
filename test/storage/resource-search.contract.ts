/**
 * The search part of the ResourceStore contract: MongoDB query semantics on `index.*` and `resource.*`,
 * sort (several keys, missing values, arrays), skip/limit and count. Expected results are what MongoDB returns.
 */
import type { Filter, Sort, Storage } from '../../src/storage/ports';
import { ids, useStorage, version, writeOf } from './contract-harness';
import type { CleanupStorage, Version } from './contract-harness';

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';

function patients(project: string): Version[] {
  const patient = (id: string, index: Record<string, unknown>, resource: Record<string, unknown>): Version =>
    version(project, 'Patient', id, 1, { index, resource: { resourceType: 'Patient', id, ...resource } });
  return [
    patient(
      'a',
      {
        name: ['alice', 'smith'],
        family: 'smith',
        birthdate: '1980-01-01',
        age: 44,
        active: true,
        identifier: [{ system: 'urn:mrn', value: 'A1' }],
        code: [
          { system: LOINC, code: '1234-5' },
          { system: SNOMED, code: '111' },
        ],
      },
      { gender: 'female', name: [{ family: 'Smith', given: ['Alice'] }] },
    ),
    patient(
      'b',
      {
        name: ['bob', 'jones'],
        family: 'jones',
        birthdate: '1975-06-15',
        age: 49,
        active: false,
        identifier: [{ system: 'urn:mrn', value: 'B2' }],
        code: [{ system: LOINC, code: '999-9' }],
      },
      { gender: 'male', name: [{ family: 'Jones', given: ['Bob'] }] },
    ),
    patient(
      'c',
      { name: ['carol', 'smith'], family: 'smith', birthdate: '1990-12-31', age: 34, tag: 'vip', code: [] },
      { gender: 'female', name: [{ family: 'Smith', given: ['Carol', 'Ann'] }] },
    ),
    patient(
      'd',
      { name: ['dave'], birthdate: '2001-03-03', age: 23, active: true, code: [{ system: SNOMED, code: '1234-5' }] },
      { gender: 'male' },
    ),
    patient('e', {}, { gender: 'unknown' }),
  ];
}

async function seed(storage: Storage, project: string): Promise<void> {
  const docs = [
    ...patients(project),
    version(project, 'Observation', 'o1', 1, { index: { code: [{ system: LOINC, code: '1234-5' }], subject: 'Patient/a' } }),
    version(`${project}-other`, 'Patient', 'a', 1, { index: { name: ['alice'], family: 'smith', age: 44 } }),
  ];
  await storage.resources.write(docs.map(writeOf));
}

/** [filter (added to {project, type: 'Patient'}), expected ids in id order]. */
const QUERIES: Array<[string, Filter, string[]]> = [
  ['implicit equality on a scalar', { 'index.family': 'smith' }, ['a', 'c']],
  ['implicit equality on an array element', { 'index.name': 'alice' }, ['a']],
  ['$eq', { 'index.family': { $eq: 'jones' } }, ['b']],
  ['$ne on a scalar (missing matches)', { 'index.family': { $ne: 'smith' } }, ['b', 'd', 'e']],
  ['$ne on an array (no element may equal)', { 'index.name': { $ne: 'smith' } }, ['b', 'd', 'e']],
  ['$in on a scalar', { 'index.family': { $in: ['smith', 'jones'] } }, ['a', 'b', 'c']],
  ['$in on an array', { 'index.name': { $in: ['dave', 'bob'] } }, ['b', 'd']],
  ['$in with a RegExp', { 'index.name': { $in: [/^b/, 'dave'] } }, ['b', 'd']],
  ['$in with an empty list', { 'index.family': { $in: [] } }, []],
  ['$nin', { 'index.family': { $nin: ['smith'] } }, ['b', 'd', 'e']],
  ['$gt on numbers', { 'index.age': { $gt: 44 } }, ['b']],
  ['$gte on numbers', { 'index.age': { $gte: 44 } }, ['a', 'b']],
  ['$lt on numbers', { 'index.age': { $lt: 34 } }, ['d']],
  ['$lte on numbers', { 'index.age': { $lte: 34 } }, ['c', 'd']],
  ['range on date strings', { 'index.birthdate': { $gte: '1980-01-01', $lt: '2000-01-01' } }, ['a', 'c']],
  ['$gt compares only within a type', { 'index.age': { $gt: '40' } }, []],
  ['$exists true', { 'index.active': { $exists: true } }, ['a', 'b', 'd']],
  ['$exists false', { 'index.active': { $exists: false } }, ['c', 'e']],
  ['boolean equality', { 'index.active': true }, ['a', 'd']],
  ['null matches missing', { 'index.family': null }, ['d', 'e']],
  ['$and', { $and: [{ 'index.family': 'smith' }, { 'index.age': { $gt: 40 } }] }, ['a']],
  ['$or', { $or: [{ 'index.family': 'jones' }, { 'index.tag': 'vip' }] }, ['b', 'c']],
  ['$or mixing indexed and unindexed fields', { $or: [{ 'index.tag': 'vip' }, { 'resource.gender': 'unknown' }] }, ['c', 'e']],
  ['$nor', { $nor: [{ 'index.family': 'smith' }, { 'index.active': true }] }, ['b', 'e']],
  ['$not with an operator (missing matches)', { 'index.age': { $not: { $gt: 40 } } }, ['c', 'd', 'e']],
  ['$not with a RegExp', { 'index.family': { $not: /^smi/ } }, ['b', 'd', 'e']],
  ['$elemMatch on {system, code}', { 'index.code': { $elemMatch: { system: LOINC, code: '1234-5' } } }, ['a']],
  ['$elemMatch on one field', { 'index.code': { $elemMatch: { system: SNOMED } } }, ['a', 'd']],
  ['$elemMatch with $in', { 'index.code': { $elemMatch: { code: { $in: ['111', '999-9'] } } } }, ['a', 'b']],
  ['$elemMatch on identifiers', { 'index.identifier': { $elemMatch: { system: 'urn:mrn', value: 'B2' } } }, ['b']],
  ['dotted path into an array of objects', { 'index.code.code': '1234-5' }, ['a', 'd']],
  ['dotted path with $in', { 'index.code.system': { $in: [SNOMED] } }, ['a', 'd']],
  ['positional path', { 'index.name.0': 'carol' }, ['c']],
  ['$all', { 'index.name': { $all: ['alice', 'smith'] } }, ['a']],
  ['$size', { 'index.code': { $size: 0 } }, ['c']],
  ['RegExp on a scalar, case-insensitive', { 'index.family': /^SMI/i }, ['a', 'c']],
  ['RegExp on an array', { 'index.name': /^ca/ }, ['c']],
  ['RegExp not anchored', { 'index.birthdate': /-12-/ }, ['c']],
  ['equality on resource.*', { 'resource.gender': 'female' }, ['a', 'c']],
  ['path through arrays in resource.*', { 'resource.name.given': 'Ann' }, ['c']],
  ['RegExp on resource.*', { 'resource.name.family': /^jo/i }, ['b']],
  ['$exists on resource.*', { 'resource.name': { $exists: false } }, ['d', 'e']],
  ['by id', { id: { $in: ['b', 'e', 'zz'] } }, ['b', 'e']],
];

/**
 * Registers the search contract tests.
 *
 * @param name - adapter name shown in test titles
 * @param open - opens a fresh storage (called before each test)
 * @param cleanup - runs after each test once the storage is closed
 */
export function resourceSearchContract(name: string, open: () => Promise<Storage>, cleanup?: CleanupStorage): void {
  describe(`${name}: ResourceStore search`, () => {
    const ctx = useStorage(open, cleanup);
    const byId: Sort = [['id', 1]];

    test.each(QUERIES)('%s', async (_title, filter, expected) => {
      const { storage, project } = ctx();
      await seed(storage, project);
      const full = { project, type: 'Patient', ...filter };
      expect(ids(await storage.resources.search(full, { sort: byId }))).toEqual(expected);
      expect(await storage.resources.count(full)).toBe(expected.length);
    });

    test('a filter without a type searches every type of the project, and only that project', async () => {
      const { storage, project } = ctx();
      await seed(storage, project);
      const found = await storage.resources.search({ project, 'index.code.code': '1234-5' }, { sort: byId });
      expect(found.map((d) => `${d.type}/${d.id}`)).toEqual(['Patient/a', 'Patient/d', 'Observation/o1']);
      const alice = await storage.resources.search({ project, 'index.name': 'alice' });
      expect(alice.map((d) => d._id)).toEqual([`${project}/Patient/a`]);
      expect(await storage.resources.count({ project })).toBe(6);
      const byDocId = await storage.resources.search({ _id: { $in: [`${project}/Patient/d`, `${project}-other/Patient/a`] } });
      expect(byDocId.map((d) => d._id).sort()).toEqual([`${project}-other/Patient/a`, `${project}/Patient/d`]);
    });

    test('sort by several keys, ascending and descending, missing values lowest', async () => {
      const { storage, project } = ctx();
      await seed(storage, project);
      const search = (sort: Sort): Promise<string[]> =>
        storage.resources.search({ project, type: 'Patient' }, { sort }).then(ids);
      expect(await search([['index.family', 1], ['index.age', -1]])).toEqual(['d', 'e', 'b', 'a', 'c']);
      expect(await search([['index.family', -1], ['index.age', -1]])).toEqual(['a', 'c', 'b', 'd', 'e']);
      expect(await search([['index.birthdate', -1]])).toEqual(['d', 'c', 'a', 'b', 'e']);
      expect(await search([['index.active', 1], ['id', -1]])).toEqual(['e', 'c', 'b', 'd', 'a']);
      expect(await search([['resource.gender', 1], ['id', 1]])).toEqual(['a', 'c', 'b', 'd', 'e']);
    });

    test('sort on arrays uses the smallest element ascending and the largest descending', async () => {
      const { storage, project } = ctx();
      await seed(storage, project);
      const search = (sort: Sort): Promise<string[]> =>
        storage.resources.search({ project, type: 'Patient' }, { sort }).then(ids);
      // names: a [alice, smith], b [bob, jones], c [carol, smith], d [dave], e missing
      expect(await search([['index.name', 1]])).toEqual(['e', 'a', 'b', 'c', 'd']);
      expect(await search([['index.name', -1], ['id', 1]])).toEqual(['a', 'c', 'b', 'd', 'e']);
      // code.code reaches several values per document: a {1234-5, 111}, b {999-9}, d {1234-5}
      const withCodes = (sort: Sort): Promise<string[]> =>
        storage.resources.search({ project, 'index.code.code': { $exists: true } }, { sort }).then(ids);
      expect(await withCodes([['index.code.code', 1], ['id', 1]])).toEqual(['a', 'd', 'o1', 'b']);
      expect(await withCodes([['index.code.code', -1], ['id', 1]])).toEqual(['b', 'a', 'd', 'o1']);
    });

    test('sort puts an empty array below null and missing values', async () => {
      const { storage, project } = ctx();
      const docs = [
        version(project, 'Basic', 'x', 1, { index: { k: [3, 1] } }),
        version(project, 'Basic', 'y', 1, { index: { k: 2 } }),
        version(project, 'Basic', 'z', 1, { index: {} }),
        version(project, 'Basic', 'w', 1, { index: { k: [] } }),
        version(project, 'Basic', 'v', 1, { index: { k: null } }),
      ];
      await storage.resources.write(docs.map(writeOf));
      const search = (sort: Sort): Promise<string[]> => storage.resources.search({ project }, { sort }).then(ids);
      expect(await search([['index.k', 1], ['id', 1]])).toEqual(['w', 'v', 'z', 'x', 'y']);
      expect(await search([['index.k', -1], ['id', 1]])).toEqual(['x', 'y', 'v', 'z', 'w']);
    });

    test('sort orders numbers numerically and strings by code point', async () => {
      const { storage, project } = ctx();
      const values: Array<[string, unknown]> = [['n1', 10], ['n2', 9], ['n3', -1.5], ['s1', 'b'], ['s2', 'B'], ['s3', 'ä'], ['t', true]];
      await storage.resources.write(values.map(([id, k]) => writeOf(version(project, 'Basic', id, 1, { index: { k } }))));
      const sorted = await storage.resources.search({ project }, { sort: [['index.k', 1]] });
      expect(ids(sorted)).toEqual(['n3', 'n2', 'n1', 's2', 's1', 's3', 't']);
    });

    test('skip and limit apply after the sort', async () => {
      const { storage, project } = ctx();
      await seed(storage, project);
      const filter = { project, type: 'Patient' };
      expect(ids(await storage.resources.search(filter, { sort: byId, skip: 1, limit: 2 }))).toEqual(['b', 'c']);
      expect(ids(await storage.resources.search(filter, { sort: [['id', -1]], limit: 2 }))).toEqual(['e', 'd']);
      expect(ids(await storage.resources.search(filter, { sort: byId, skip: 4 }))).toEqual(['e']);
      expect(await storage.resources.search(filter, { sort: byId, skip: 5 })).toEqual([]);
      expect(await storage.resources.search(filter, { limit: 0 })).toEqual([]);
      expect(await storage.resources.search(filter, { limit: 3 })).toHaveLength(3);
      expect(await storage.resources.count(filter)).toBe(5);
    });

    test('search returns current versions only and hides deletion markers unless asked', async () => {
      const { storage, project } = ctx();
      await seed(storage, project);
      await storage.resources.write([
        writeOf(version(project, 'Patient', 'a', 2, { index: { family: 'smythe' } })),
        { doc: { project, type: 'Patient', id: 'b', versionId: 2, lastUpdated: '2026-02-01T00:00:00.000Z', deleted: true, method: 'delete' }, expectedVersion: 1 },
      ]);
      expect(ids(await storage.resources.search({ project, type: 'Patient', 'index.family': 'smith' }, { sort: byId }))).toEqual(['c']);
      expect(ids(await storage.resources.search({ project, 'index.family': 'smythe' }))).toEqual(['a']);
      expect(ids(await storage.resources.search({ project, type: 'Patient' }, { sort: byId }))).toEqual(['a', 'c', 'd', 'e']);
      expect(ids(await storage.resources.search({ project, deleted: true }))).toEqual(['b']);
      expect(await storage.resources.count({ project, type: 'Patient', $or: [{ deleted: true }, { deleted: false }] })).toBe(5);
    });
  });
}
