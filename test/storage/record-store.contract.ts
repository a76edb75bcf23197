/**
 * The RecordStore contract: every storage adapter must pass it.
 */
import type { Storage, StoredRecord } from '../../src/storage/ports';
import { useStorage } from './contract-harness';
import type { CleanupStorage } from './contract-harness';

function future(ms = 3_600_000): string {
  return new Date(Date.now() + ms).toISOString();
}

function past(ms = 1_000): string {
  return new Date(Date.now() - ms).toISOString();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Registers the RecordStore contract tests.
 *
 * @param name - adapter name shown in test titles
 * @param open - opens a fresh storage (called before each test)
 * @param cleanup - runs after each test once the storage is closed
 */
export function recordStoreContract(name: string, open: () => Promise<Storage>, cleanup?: CleanupStorage): void {
  describe(`${name}: RecordStore`, () => {
    const ctx = useStorage(open, cleanup);
    /** A kind unique to the running test, so a shared MongoDB database needs no clean-up between tests. */
    const kind = (base: string): string => `${base}:${ctx().project}`;

    test('put then get returns the record; put replaces it', async () => {
      const { storage } = ctx();
      const record: StoredRecord = { kind: kind('grant'), key: 'g1', value: { user: 'u1', scopes: ['a', 'b'] }, expiresAt: future() };
      await storage.records.put(record);
      expect(await storage.records.get(kind('grant'), 'g1')).toEqual(record);
      await storage.records.put({ kind: kind('grant'), key: 'g1', value: { user: 'u2' } });
      expect(await storage.records.get(kind('grant'), 'g1')).toEqual({ kind: kind('grant'), key: 'g1', value: { user: 'u2' } });
    });

    test('unknown keys and kinds read as undefined; kinds are separate namespaces', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('a'), key: 'k', value: { n: 1 } });
      await storage.records.put({ kind: kind('b'), key: 'k', value: { n: 2 } });
      expect(await storage.records.get(kind('a'), 'missing')).toBeUndefined();
      expect(await storage.records.get(kind('c'), 'k')).toBeUndefined();
      expect((await storage.records.get(kind('a'), 'k'))?.value).toEqual({ n: 1 });
      expect((await storage.records.get(kind('b'), 'k'))?.value).toEqual({ n: 2 });
    });

    test('insert creates only when the key is free', async () => {
      const { storage } = ctx();
      expect(await storage.records.insert({ kind: kind('code'), key: 'c1', value: { n: 1 } })).toBe(true);
      expect(await storage.records.insert({ kind: kind('code'), key: 'c1', value: { n: 2 } })).toBe(false);
      expect((await storage.records.get(kind('code'), 'c1'))?.value).toEqual({ n: 1 });
      await storage.records.delete(kind('code'), 'c1');
      expect(await storage.records.insert({ kind: kind('code'), key: 'c1', value: { n: 3 } })).toBe(true);
      expect((await storage.records.get(kind('code'), 'c1'))?.value).toEqual({ n: 3 });
    });

    test('of concurrent inserts of one key exactly one succeeds', async () => {
      const { storage } = ctx();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, n) => storage.records.insert({ kind: kind('jti'), key: 'j', value: { n } })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await storage.records.get(kind('jti'), 'j'))?.value).toEqual({ n: winner });
    });

    test('consume returns the record once and removes it', async () => {
      const { storage } = ctx();
      const record = { kind: kind('code'), key: 'c1', value: { client: 'app' }, expiresAt: future() };
      await storage.records.put(record);
      expect(await storage.records.consume(kind('code'), 'c1')).toEqual(record);
      expect(await storage.records.consume(kind('code'), 'c1')).toBeUndefined();
      expect(await storage.records.get(kind('code'), 'c1')).toBeUndefined();
      expect(await storage.records.consume(kind('code'), 'never')).toBeUndefined();
    });

    test('of concurrent consumes exactly one gets the record', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('code'), key: 'c1', value: { client: 'app' } });
      const results = await Promise.all(Array.from({ length: 10 }, () => storage.records.consume(kind('code'), 'c1')));
      expect(results.filter((r) => r !== undefined)).toEqual([{ kind: kind('code'), key: 'c1', value: { client: 'app' } }]);
    });

    test('delete removes a record and ignores unknown keys', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('s'), key: 'k1', value: {} });
      await storage.records.put({ kind: kind('s'), key: 'k2', value: {} });
      await storage.records.delete(kind('s'), 'k1');
      await storage.records.delete(kind('s'), 'unknown');
      expect(await storage.records.get(kind('s'), 'k1')).toBeUndefined();
      expect(await storage.records.get(kind('s'), 'k2')).toBeDefined();
    });

    test('find filters on the value with MongoDB operators, within one kind', async () => {
      const { storage } = ctx();
      const put = (key: string, value: Record<string, unknown>): Promise<void> =>
        storage.records.put({ kind: kind('grant'), key, value });
      await put('g1', { family: 'f1', user: 'u1', revoked: false, scopes: ['openid', 'patient/*.rs'], client: { id: 'app1' } });
      await put('g2', { family: 'f1', user: 'u2', revoked: true, scopes: ['openid'], client: { id: 'app2' } });
      await put('g3', { family: 'f2', user: 'u1', scopes: [], client: { id: 'app1' } });
      await storage.records.put({ kind: kind('other'), key: 'g4', value: { family: 'f1' } });
      const keys = async (filter?: Record<string, unknown>): Promise<string[]> =>
        (await storage.records.find(kind('grant'), filter)).map((r) => r.key).sort();
      expect(await keys()).toEqual(['g1', 'g2', 'g3']);
      expect(await keys({})).toEqual(['g1', 'g2', 'g3']);
      expect(await keys({ family: 'f1' })).toEqual(['g1', 'g2']);
      expect(await keys({ user: { $in: ['u2', 'u9'] } })).toEqual(['g2']);
      expect(await keys({ revoked: { $ne: true } })).toEqual(['g1', 'g3']);
      expect(await keys({ 'client.id': 'app1', scopes: 'openid' })).toEqual(['g1']);
      expect(await keys({ $or: [{ user: 'u2' }, { family: 'f2' }] })).toEqual(['g2', 'g3']);
      expect(await keys({ scopes: /^patient\// })).toEqual(['g1']);
      expect(await keys({ revoked: { $exists: false } })).toEqual(['g3']);
      expect(await storage.records.find(kind('nothing'), {})).toEqual([]);
      const [full] = await storage.records.find(kind('other'));
      expect(full).toEqual({ kind: kind('other'), key: 'g4', value: { family: 'f1' } });
    });

    test('deleteMany removes matching records of one kind and returns how many', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('token'), key: 't1', value: { grant: 'g1' } });
      await storage.records.put({ kind: kind('token'), key: 't2', value: { grant: 'g1' } });
      await storage.records.put({ kind: kind('token'), key: 't3', value: { grant: 'g2' } });
      await storage.records.put({ kind: kind('other'), key: 't4', value: { grant: 'g1' } });
      expect(await storage.records.deleteMany(kind('token'), { grant: 'g1' })).toBe(2);
      expect(await storage.records.deleteMany(kind('token'), { grant: 'g1' })).toBe(0);
      expect((await storage.records.find(kind('token'))).map((r) => r.key)).toEqual(['t3']);
      expect(await storage.records.get(kind('other'), 't4')).toBeDefined();
    });

    test('expired records are never returned and their key is free again', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('code'), key: 'old', value: { n: 1 }, expiresAt: past() });
      await storage.records.put({ kind: kind('code'), key: 'live', value: { n: 2 }, expiresAt: future() });
      expect(await storage.records.get(kind('code'), 'old')).toBeUndefined();
      expect((await storage.records.find(kind('code'))).map((r) => r.key)).toEqual(['live']);
      expect(await storage.records.consume(kind('code'), 'old')).toBeUndefined();
      expect(await storage.records.deleteMany(kind('code'), {})).toBe(1);
      await storage.records.put({ kind: kind('code'), key: 'old2', value: { n: 3 }, expiresAt: past() });
      expect(await storage.records.insert({ kind: kind('code'), key: 'old2', value: { n: 4 } })).toBe(true);
      expect((await storage.records.get(kind('code'), 'old2'))?.value).toEqual({ n: 4 });
    });

    test('a record expires when its time comes', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('code'), key: 'soon', value: {}, expiresAt: future(300) });
      expect(await storage.records.get(kind('code'), 'soon')).toBeDefined();
      await sleep(400);
      expect(await storage.records.get(kind('code'), 'soon')).toBeUndefined();
      expect(await storage.records.find(kind('code'))).toEqual([]);
    });

    test('callers cannot change stored records through objects they passed in or got back', async () => {
      const { storage } = ctx();
      const value = { list: ['a'] };
      await storage.records.put({ kind: kind('k'), key: 'x', value });
      value.list.push('changed');
      const read = await storage.records.get(kind('k'), 'x');
      (read?.value.list as string[]).push('changed-too');
      expect((await storage.records.get(kind('k'), 'x'))?.value).toEqual({ list: ['a'] });
    });

    test('a shared get serves the same record, which cannot be changed through it; consume and put still work', async () => {
      const { storage } = ctx();
      await storage.records.put({ kind: kind('k'), key: 'x', value: { list: ['a'] } });
      const shared = await storage.records.get(kind('k'), 'x', { shared: true });
      expect(shared).toEqual({ kind: kind('k'), key: 'x', value: { list: ['a'] } });
      // A store may hand out its own (frozen) record or a copy; either way the stored record never changes.
      try {
        (shared?.value.list as string[]).push('changed');
      } catch (err) {
        expect(err).toBeInstanceOf(TypeError);
      }
      expect((await storage.records.get(kind('k'), 'x'))?.value).toEqual({ list: ['a'] });
      const consumed = await storage.records.consume(kind('k'), 'x');
      (consumed?.value.list as string[]).push('mine');
      expect(consumed?.value).toEqual({ list: ['a', 'mine'] });
      await storage.records.put({ kind: kind('k'), key: 'x', value: { list: ['b'] } });
      expect((await storage.records.get(kind('k'), 'x', { shared: true }))?.value).toEqual({ list: ['b'] });
    });

    test('invalid records are refused', async () => {
      const { storage } = ctx();
      await expect(storage.records.put({ kind: '', key: 'k', value: {} })).rejects.toThrow(TypeError);
      await expect(storage.records.put({ kind: kind('k'), key: 'k', value: {}, expiresAt: 'tomorrow' })).rejects.toThrow(
        /expiresAt/,
      );
      expect(await storage.records.get(kind('k'), 'k')).toBeUndefined();
    });
  });
}
