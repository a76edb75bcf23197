/**
 * The staged view used by FHIR transactions (src/fhir/repository/staged-store.ts) over a real adapter: reads,
 * searches, counts and history see staged writes merged with stored ones; nothing is stored before `commit()`;
 * a commit that meets a concurrent change stores nothing. Registered from resource-store.contract.ts, so it runs
 * on every adapter.
 */
import { StagedResourceStore } from '../../src/fhir/repository/staged-store';
import type { Storage } from '../../src/storage/ports';
import { UniqueConflictError, VersionConflictError } from '../../src/storage/ports';
import { at, deletion, ids, useStorage, version, writeOf } from './contract-harness';
import type { CleanupStorage } from './contract-harness';

/**
 * Registers the staged-store tests.
 *
 * @param name - adapter name shown in test titles
 * @param open - opens a fresh storage (called before each test)
 * @param cleanup - runs after each test once the storage is closed
 */
export function stagedStoreContract(name: string, open: () => Promise<Storage>, cleanup?: CleanupStorage): void {
  describe(`${name}: staged transaction view`, () => {
    const ctx = useStorage(open, cleanup);

    test('staged writes are visible through the view and stored only on commit', async () => {
      const { storage, project } = ctx();
      await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1, { index: { family: 'smith' } }))]);
      const staged = new StagedResourceStore(storage.resources);
      await staged.write([writeOf(version(project, 'Patient', 'b', 1, { index: { family: 'smith' } }))]);
      await staged.write([writeOf(version(project, 'Patient', 'a', 2, { index: { family: 'jones' }, lastUpdated: at(5) }))]);
      expect((await staged.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(2);
      expect(await staged.readCurrent(project, 'Patient', 'b')).toBeDefined();
      expect(await storage.resources.readCurrent(project, 'Patient', 'b')).toBeUndefined();
      expect(ids(await staged.search({ project, 'index.family': 'smith' }))).toEqual(['b']);
      expect(await staged.count({ project, type: 'Patient' })).toBe(2);
      expect(ids(await staged.search({ project, type: 'Patient' }, { sort: [['id', -1]], limit: 1 }))).toEqual(['b']);
      expect(ids(await staged.search({ project, type: 'Patient' }, { sort: [['id', 1]], skip: 1, limit: 1 }))).toEqual(['b']);
      expect((await staged.history({ project, type: 'Patient', id: 'a' })).map((v) => v.versionId)).toEqual([2, 1]);
      expect(await staged.countHistory({ project, type: 'Patient' })).toBe(3);
      expect((await staged.readVersion(project, 'Patient', 'a', 2))?.index).toEqual({ family: 'jones' });

      await staged.commit();
      expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(2);
      expect(await storage.resources.readCurrent(project, 'Patient', 'b')).toBeDefined();
    });

    test('a staged deletion hides the resource from searches', async () => {
      const { storage, project } = ctx();
      await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
      const staged = new StagedResourceStore(storage.resources);
      await staged.write([writeOf(deletion(project, 'Patient', 'a', 2))]);
      expect(await staged.search({ project, type: 'Patient', deleted: false })).toEqual([]);
      expect(await staged.count({ project, type: 'Patient', deleted: false })).toBe(0);
      expect(await storage.resources.count({ project, type: 'Patient', deleted: false })).toBe(1);
    });

    test('a stale precondition, a second write of one resource, or a staged unique clash fails at once', async () => {
      const { storage, project } = ctx();
      await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
      const staged = new StagedResourceStore(storage.resources);
      await expect(staged.write([{ doc: version(project, 'Patient', 'a', 3), expectedVersion: 2 }])).rejects.toBeInstanceOf(VersionConflictError);
      await staged.write([writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: ['User.email|x@y.z'] }))]);
      await expect(staged.write([writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: ['User.email|x@y.z'] }))])).rejects.toBeInstanceOf(UniqueConflictError);
      await staged.write([writeOf(version(project, 'Patient', 'a', 2))]);
      await expect(staged.write([writeOf(version(project, 'Patient', 'a', 3))])).rejects.toThrow(/more than once/);
    });

    test('a commit after a concurrent change stores nothing', async () => {
      const { storage, project } = ctx();
      await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
      const staged = new StagedResourceStore(storage.resources);
      await staged.write([writeOf(version(project, 'Patient', 'new', 1))]);
      await staged.write([writeOf(version(project, 'Patient', 'a', 2))]);
      await storage.resources.write([writeOf(version(project, 'Patient', 'a', 2, { lastUpdated: at(9) }))]);
      await expect(staged.commit()).rejects.toBeInstanceOf(VersionConflictError);
      expect(await storage.resources.readCurrent(project, 'Patient', 'new')).toBeUndefined();
      expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.lastUpdated).toBe(at(9));
    });
  });
}
