/**
 * The ResourceStore contract: every storage adapter must pass it (run by embedded.contract.test.ts and
 * mongo.contract.test.ts). Search semantics live in resource-search.contract.ts, registered from here.
 */
import { UniqueConflictError, VersionConflictError } from '../../src/storage/ports';
import type { Storage } from '../../src/storage/ports';
import { at, deletion, ids, useStorage, version, writeOf } from './contract-harness';
import type { CleanupStorage } from './contract-harness';
import { resourceSearchContract } from './resource-search.contract';
import { stagedStoreContract } from './staged-store.contract';

/**
 * Registers the ResourceStore contract tests.
 *
 * @param name - adapter name shown in test titles
 * @param open - opens a fresh storage (called before each test)
 * @param cleanup - runs after each test once the storage is closed
 */
export function resourceStoreContract(name: string, open: () => Promise<Storage>, cleanup?: CleanupStorage): void {
  describe(`${name}: ResourceStore`, () => {
    const ctx = useStorage(open, cleanup);

    describe('create, read, update, delete', () => {
      test('a created resource is readable as current and as version 1', async () => {
        const { storage, project } = ctx();
        const doc = version(project, 'Patient', 'a', 1, { index: { family: 'smith' }, uniqueKeys: ['k|1'] });
        await storage.resources.write([writeOf(doc)]);
        expect(await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true })).toEqual({ _id: `${project}/Patient/a`, ...doc });
        expect(await storage.resources.readVersion(project, 'Patient', 'a', 1)).toEqual({
          _id: `${project}/Patient/a/1`,
          ...doc,
        });
      });

      test('a keyed read leaves out the search values and nothing else, unless asked for them', async () => {
        const { storage, project } = ctx();
        const doc = version(project, 'Patient', 'a', 1, { index: { family: 'smith' }, sort: { family: 'smith' }, uniqueKeys: ['k|1'] });
        await storage.resources.write([writeOf(doc)]);
        const { index: _index, sort: _sort, ...rest } = doc as typeof doc & { sort?: unknown };
        expect(await storage.resources.readCurrent(project, 'Patient', 'a')).toEqual({ _id: `${project}/Patient/a`, ...rest });
        expect(await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true })).toEqual({ _id: `${project}/Patient/a`, ...doc });
      });

      test('unknown ids and versions read as undefined', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
        expect(await storage.resources.readCurrent(project, 'Patient', 'missing')).toBeUndefined();
        expect(await storage.resources.readCurrent(project, 'Observation', 'a')).toBeUndefined();
        expect(await storage.resources.readVersion(project, 'Patient', 'a', 2)).toBeUndefined();
      });

      test('an update becomes current and keeps the previous version in history', async () => {
        const { storage, project } = ctx();
        const v1 = version(project, 'Patient', 'a', 1, { resource: { resourceType: 'Patient', gender: 'male' } });
        const v2 = version(project, 'Patient', 'a', 2, { resource: { resourceType: 'Patient', gender: 'female' } });
        await storage.resources.write([writeOf(v1)]);
        await storage.resources.write([writeOf(v2)]);
        expect(await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true })).toEqual({ _id: `${project}/Patient/a`, ...v2 });
        expect((await storage.resources.readVersion(project, 'Patient', 'a', 1))?.resource).toEqual({
          resourceType: 'Patient',
          gender: 'male',
        });
      });

      test('a delete stores a marker as current and a history row; re-creating continues the versions', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1, { index: { family: 'x' } }))]);
        await storage.resources.write([writeOf(deletion(project, 'Patient', 'a', 2))]);
        const marker = await storage.resources.readCurrent(project, 'Patient', 'a');
        expect(marker).toEqual({ _id: `${project}/Patient/a`, ...deletion(project, 'Patient', 'a', 2) });
        expect(marker).not.toHaveProperty('resource');
        expect(ids(await storage.resources.history({ project, type: 'Patient', id: 'a' }))).toEqual(['a', 'a']);
        expect((await storage.resources.history({ project, type: 'Patient', id: 'a' }))[0]?.deleted).toBe(true);
        expect(await storage.resources.search({ project, type: 'Patient' })).toEqual([]);
        expect(ids(await storage.resources.search({ project, type: 'Patient', deleted: true }))).toEqual(['a']);
        expect(await storage.resources.count({ project, type: 'Patient' })).toBe(0);
        await expect(storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))])).rejects.toBeInstanceOf(
          VersionConflictError,
        );
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 3))]);
        expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(3);
        expect(await storage.resources.countHistory({ project, type: 'Patient', id: 'a' })).toBe(3);
      });

      test('callers cannot change stored documents through objects they passed in or got back', async () => {
        const { storage, project } = ctx();
        const doc = version(project, 'Patient', 'a', 1, { index: { tags: ['x'] } });
        await storage.resources.write([writeOf(doc)]);
        (doc.index?.tags as string[]).push('mutated');
        const read = await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true });
        (read?.index?.tags as string[]).push('mutated-too');
        const [found] = await storage.resources.search({ project, 'index.tags': 'x' });
        (found?.resource as Record<string, unknown>).id = 'changed';
        expect(await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true })).toEqual({
          _id: `${project}/Patient/a`,
          ...version(project, 'Patient', 'a', 1, { index: { tags: ['x'] } }),
        });
      });

      test('a shared read serves the same document; what it hands out cannot be changed, and writes replace it', async () => {
        const { storage, project } = ctx();
        const v1 = version(project, 'Patient', 'a', 1, { index: { family: 'x' }, resource: { resourceType: 'Patient', name: [{ family: 'X' }] } });
        await storage.resources.write([writeOf(v1)]);
        const { index: _index, ...rest } = v1;
        const shared = await storage.resources.readCurrent(project, 'Patient', 'a', { shared: true });
        expect(shared).toEqual({ _id: `${project}/Patient/a`, ...rest });
        const name = (shared?.resource as { name: Array<{ family: string }> }).name[0] as { family: string };
        // A store may hand out its own (frozen) resource or a copy; either way the stored document never changes.
        try {
          name.family = 'changed';
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
        }
        expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.resource).toEqual(v1.resource);
        const copy = await storage.resources.readCurrent(project, 'Patient', 'a');
        (copy?.resource as Record<string, unknown>).gender = 'other';
        expect(Object.isFrozen(copy?.resource)).toBe(false);
        const v2 = version(project, 'Patient', 'a', 2, { resource: { resourceType: 'Patient', gender: 'female' } });
        await storage.resources.write([writeOf(v2)]);
        expect((await storage.resources.readCurrent(project, 'Patient', 'a', { shared: true }))?.resource).toEqual(v2.resource);
        expect((await storage.resources.readVersion(project, 'Patient', 'a', 1))?.resource).toEqual(v1.resource);
      });

      test('a write whose versionId is not expectedVersion + 1 is refused', async () => {
        const { storage, project } = ctx();
        await expect(
          storage.resources.write([{ doc: version(project, 'Patient', 'a', 2), expectedVersion: 0 }]),
        ).rejects.toThrow(/versionId/);
        expect(await storage.resources.readCurrent(project, 'Patient', 'a')).toBeUndefined();
      });
    });

    describe('history', () => {
      async function seedHistory(storage: Storage, project: string): Promise<void> {
        // minutes: a1@1 b1@2 a2@3 c1(Observation)@4 a3@5(delete) b2@5
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1, { lastUpdated: at(1) }))]);
        await storage.resources.write([writeOf(version(project, 'Patient', 'b', 1, { lastUpdated: at(2) }))]);
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 2, { lastUpdated: at(3) }))]);
        await storage.resources.write([writeOf(version(project, 'Observation', 'c', 1, { lastUpdated: at(4) }))]);
        await storage.resources.write([writeOf(deletion(project, 'Patient', 'a', 3, at(5)))]);
        await storage.resources.write([writeOf(version(project, 'Patient', 'b', 2, { lastUpdated: at(5) }))]);
      }
      const rows = (docs: Array<{ id: string; versionId: number }>): string[] =>
        docs.map((d) => `${d.id}${d.versionId}`);

      test('instance, type and project history are newest first, ties by versionId desc', async () => {
        const { storage, project } = ctx();
        await seedHistory(storage, project);
        expect(rows(await storage.resources.history({ project, type: 'Patient', id: 'a' }))).toEqual(['a3', 'a2', 'a1']);
        expect(rows(await storage.resources.history({ project, type: 'Patient' }))).toEqual(['a3', 'b2', 'a2', 'b1', 'a1']);
        expect(rows(await storage.resources.history({ project }))).toEqual(['a3', 'b2', 'c1', 'a2', 'b1', 'a1']);
        expect(await storage.resources.countHistory({ project })).toBe(6);
        expect(await storage.resources.countHistory({ project, type: 'Observation' })).toBe(1);
        expect(await storage.resources.history({ project, type: 'Patient', id: 'none' })).toEqual([]);
        expect(await storage.resources.history({ project: `${project}-other` })).toEqual([]);
      });

      test('since is inclusive, before is exclusive', async () => {
        const { storage, project } = ctx();
        await seedHistory(storage, project);
        expect(rows(await storage.resources.history({ project, since: at(3) }))).toEqual(['a3', 'b2', 'c1', 'a2']);
        expect(rows(await storage.resources.history({ project, before: at(3) }))).toEqual(['b1', 'a1']);
        expect(rows(await storage.resources.history({ project, type: 'Patient', since: at(2), before: at(5) }))).toEqual([
          'a2',
          'b1',
        ]);
        expect(await storage.resources.countHistory({ project, since: at(2), before: at(5) })).toBe(3);
        expect(await storage.resources.history({ project, since: at(6) })).toEqual([]);
      });

      test('skip and limit page through history; countHistory ignores them', async () => {
        const { storage, project } = ctx();
        await seedHistory(storage, project);
        expect(rows(await storage.resources.history({ project, skip: 1, limit: 2 }))).toEqual(['b2', 'c1']);
        expect(rows(await storage.resources.history({ project, skip: 4, limit: 10 }))).toEqual(['b1', 'a1']);
        expect(await storage.resources.history({ project, skip: 6 })).toEqual([]);
        expect(await storage.resources.history({ project, limit: 0 })).toEqual([]);
        expect(await storage.resources.countHistory({ project, skip: 1, limit: 2 })).toBe(6);
        const page = await storage.resources.history({ project, type: 'Patient', before: at(5), limit: 1 });
        expect(rows(page)).toEqual(['a2']);
      });

      test('history rows carry the full stored version', async () => {
        const { storage, project } = ctx();
        await seedHistory(storage, project);
        const [row] = await storage.resources.history({ project, type: 'Observation', id: 'c' });
        expect(row).toEqual({ _id: `${project}/Observation/c/1`, ...version(project, 'Observation', 'c', 1, { lastUpdated: at(4) }) });
      });
    });

    describe('expunge', () => {
      test('removes the current document and every version; other resources keep theirs', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'AuditEvent', 'a', 1, { lastUpdated: at(1), index: { outcome: '0' }, uniqueKeys: ['k|a'] }))]);
        await storage.resources.write([writeOf(version(project, 'AuditEvent', 'a', 2, { lastUpdated: at(2), index: { outcome: '0' }, uniqueKeys: ['k|a'] }))]);
        await storage.resources.write([writeOf(version(project, 'AuditEvent', 'b', 1, { lastUpdated: at(3), index: { outcome: '0' } }))]);
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1, { lastUpdated: at(4) }))]);
        await storage.resources.expunge(project, 'AuditEvent', ['a', 'never-used']);
        expect(await storage.resources.readCurrent(project, 'AuditEvent', 'a')).toBeUndefined();
        expect(await storage.resources.readVersion(project, 'AuditEvent', 'a', 1)).toBeUndefined();
        expect(await storage.resources.readVersion(project, 'AuditEvent', 'a', 2)).toBeUndefined();
        expect(await storage.resources.history({ project, type: 'AuditEvent', id: 'a' })).toEqual([]);
        expect((await storage.resources.history({ project })).map((d) => `${d.type}/${d.id}/${d.versionId}`)).toEqual(['Patient/a/1', 'AuditEvent/b/1']);
        expect(await storage.resources.countHistory({ project, type: 'AuditEvent' })).toBe(1);
        expect(ids(await storage.resources.search({ project, type: 'AuditEvent', 'index.outcome': '0' }))).toEqual(['b']);
        expect(await storage.resources.count({ project, type: 'AuditEvent', deleted: { $in: [true, false] } })).toBe(1);
        expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(1);
        // The id is free again, and so is its unique key.
        await storage.resources.write([writeOf(version(project, 'AuditEvent', 'c', 1, { lastUpdated: at(5), uniqueKeys: ['k|a'] }))]);
        await storage.resources.write([writeOf(version(project, 'AuditEvent', 'a', 1, { lastUpdated: at(6) }))]);
        expect((await storage.resources.history({ project, type: 'AuditEvent', id: 'a' })).map((d) => d.lastUpdated)).toEqual([at(6)]);
      });

      test('of nothing, or in another project, changes nothing', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'AuditEvent', 'a', 1))]);
        await storage.resources.expunge(project, 'AuditEvent', []);
        await storage.resources.expunge(`${project}-other`, 'AuditEvent', ['a']);
        await storage.resources.expunge(project, 'Patient', ['a']);
        expect((await storage.resources.readCurrent(project, 'AuditEvent', 'a'))?.versionId).toBe(1);
        expect(await storage.resources.countHistory({ project })).toBe(1);
      });
    });

    describe('optimistic concurrency', () => {
      test('of two concurrent updates expecting the same version exactly one wins', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
        const left = version(project, 'Patient', 'a', 2, { resource: { resourceType: 'Patient', id: 'a', name: 'left' } });
        const right = version(project, 'Patient', 'a', 2, { resource: { resourceType: 'Patient', id: 'a', name: 'right' } });
        const results = await Promise.allSettled([
          storage.resources.write([writeOf(left)]),
          storage.resources.write([writeOf(right)]),
        ]);
        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(fulfilled).toHaveLength(1);
        expect(rejected).toHaveLength(1);
        expect(rejected[0]?.reason).toBeInstanceOf(VersionConflictError);
        expect(rejected[0]?.reason).toMatchObject({ expectedVersion: 1, actualVersion: 2 });
        const winner = results[0]?.status === 'fulfilled' ? left : right;
        expect(await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true })).toEqual({ _id: `${project}/Patient/a`, ...winner });
        expect(await storage.resources.countHistory({ project, type: 'Patient', id: 'a' })).toBe(2);
      });

      test('of ten concurrent creates of one id exactly one wins', async () => {
        const { storage, project } = ctx();
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            storage.resources.write([writeOf(version(project, 'Patient', 'a', 1, { index: { n: i } }))]),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(VersionConflictError);
        expect(await storage.resources.countHistory({ project, type: 'Patient', id: 'a' })).toBe(1);
      });

      test('expecting 0 on an existing id is a version conflict', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
        const attempt = storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
        await expect(attempt).rejects.toBeInstanceOf(VersionConflictError);
        await expect(attempt).rejects.toMatchObject({ key: `${project}/Patient/a`, expectedVersion: 0, actualVersion: 1 });
      });

      test('a stale expected version is a conflict and changes nothing', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 2))]);
        const stale = storage.resources.write([writeOf(version(project, 'Patient', 'a', 2, { index: { stale: true } }))]);
        await expect(stale).rejects.toMatchObject({ name: 'VersionConflictError', expectedVersion: 1, actualVersion: 2 });
        const ahead = storage.resources.write([writeOf(version(project, 'Patient', 'a', 6))]);
        await expect(ahead).rejects.toMatchObject({ expectedVersion: 5, actualVersion: 2 });
        const missing = storage.resources.write([writeOf(version(project, 'Patient', 'nope', 2))]);
        await expect(missing).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 0 });
        expect((await storage.resources.readCurrent(project, 'Patient', 'a', { withIndex: true }))?.index).toBeUndefined();
        expect(await storage.resources.countHistory({ project })).toBe(2);
      });
    });

    describe('atomic multi-write', () => {
      test('a batch applies in order; one failing precondition stores nothing of it', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1))]);
        const batch = [
          writeOf(version(project, 'Patient', 'new1', 1)),
          writeOf(version(project, 'Patient', 'a', 2)),
          writeOf(version(project, 'Observation', 'new2', 1)),
          { doc: version(project, 'Patient', 'a', 3), expectedVersion: 2 },
        ];
        // The 4th write expects version 2, which the 2nd write of the same batch produced: writes apply in order.
        await storage.resources.write(batch);
        expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(3);

        const failing = [
          writeOf(version(project, 'Patient', 'new3', 1)),
          writeOf(version(project, 'Patient', 'a', 4)),
          writeOf(version(project, 'Patient', 'new1', 1)), // exists: conflict
        ];
        await expect(storage.resources.write(failing)).rejects.toBeInstanceOf(VersionConflictError);
        expect(await storage.resources.readCurrent(project, 'Patient', 'new3')).toBeUndefined();
        expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(3);
        expect(await storage.resources.readVersion(project, 'Patient', 'a', 4)).toBeUndefined();
        expect(await storage.resources.countHistory({ project })).toBe(5);
      });

      test('a unique key claimed twice in one batch stores nothing', async () => {
        const { storage, project } = ctx();
        const batch = [
          writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: ['User.email|a@x.org'] })),
          writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: ['User.email|a@x.org'] })),
        ];
        await expect(storage.resources.write(batch)).rejects.toBeInstanceOf(UniqueConflictError);
        expect(await storage.resources.readCurrent(project, 'User', 'u1')).toBeUndefined();
        expect(await storage.resources.countHistory({ project })).toBe(0);
      });
    });

    describe('unique keys', () => {
      const email = (v: string): string[] => [`User.email|${v}`];

      test('a key held by another current document is refused', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: email('a@x.org') }))]);
        const clash = storage.resources.write([writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: email('a@x.org') }))]);
        await expect(clash).rejects.toBeInstanceOf(UniqueConflictError);
        await expect(clash).rejects.toMatchObject({ uniqueKey: 'User.email|a@x.org' });
        expect(await storage.resources.readCurrent(project, 'User', 'u2')).toBeUndefined();
        await storage.resources.write([writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: email('b@x.org') }))]);
        const update = storage.resources.write([writeOf(version(project, 'User', 'u2', 2, { uniqueKeys: email('a@x.org') }))]);
        await expect(update).rejects.toBeInstanceOf(UniqueConflictError);
        expect((await storage.resources.readCurrent(project, 'User', 'u2'))?.versionId).toBe(1);
      });

      test('the same key in another project is allowed', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: email('a@x.org') }))]);
        await storage.resources.write([writeOf(version(`${project}-2`, 'User', 'u2', 1, { uniqueKeys: email('a@x.org') }))]);
        expect(await storage.resources.readCurrent(`${project}-2`, 'User', 'u2')).toBeDefined();
      });

      test('a key is freed by deleting its holder', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: email('a@x.org') }))]);
        await storage.resources.write([writeOf(deletion(project, 'User', 'u1', 2))]);
        await storage.resources.write([writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: email('a@x.org') }))]);
        const recreate = storage.resources.write([writeOf(version(project, 'User', 'u1', 3, { uniqueKeys: email('a@x.org') }))]);
        await expect(recreate).rejects.toBeInstanceOf(UniqueConflictError);
      });

      test('a key is freed by an update that changes it; keeping it on update is fine', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: email('a@x.org') }))]);
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 2, { uniqueKeys: email('a@x.org') }))]);
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 3, { uniqueKeys: email('b@x.org') }))]);
        await storage.resources.write([writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: email('a@x.org') }))]);
        const taken = storage.resources.write([writeOf(version(project, 'User', 'u3', 1, { uniqueKeys: email('b@x.org') }))]);
        await expect(taken).rejects.toBeInstanceOf(UniqueConflictError);
        expect(ids(await storage.resources.search({ project, uniqueKeys: 'User.email|a@x.org' }))).toEqual(['u2']);
      });

      test('a key released earlier in a batch may be claimed later in the same batch', async () => {
        const { storage, project } = ctx();
        await storage.resources.write([writeOf(version(project, 'User', 'u1', 1, { uniqueKeys: email('a@x.org') }))]);
        await storage.resources.write([
          writeOf(version(project, 'User', 'u1', 2, { uniqueKeys: email('old@x.org') })),
          writeOf(version(project, 'User', 'u2', 1, { uniqueKeys: email('a@x.org') })),
        ]);
        expect(ids(await storage.resources.search({ project, uniqueKeys: 'User.email|a@x.org' }))).toEqual(['u2']);
      });
    });

    describe('project isolation', () => {
      test('the same id in two projects are two resources', async () => {
        const { storage, project } = ctx();
        const other = `${project}-other`;
        await storage.resources.write([writeOf(version(project, 'Patient', 'a', 1, { index: { family: 'smith' } }))]);
        await storage.resources.write([writeOf(version(other, 'Patient', 'a', 1, { index: { family: 'smith' } }))]);
        await storage.resources.write([writeOf(version(other, 'Patient', 'a', 2, { index: { family: 'jones' } }))]);
        expect((await storage.resources.readCurrent(project, 'Patient', 'a'))?.versionId).toBe(1);
        expect((await storage.resources.readCurrent(other, 'Patient', 'a'))?.versionId).toBe(2);
        const found = await storage.resources.search({ project, 'index.family': 'smith' });
        expect(found.map((d) => d._id)).toEqual([`${project}/Patient/a`]);
        expect(await storage.resources.search({ project, 'index.family': 'jones' })).toEqual([]);
        expect(await storage.resources.countHistory({ project })).toBe(1);
        expect(await storage.resources.countHistory({ project: other })).toBe(2);
      });
    });
  });

  resourceSearchContract(name, open, cleanup);
  stagedStoreContract(name, open, cleanup);
}
