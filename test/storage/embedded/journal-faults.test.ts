/**
 * The embedded store when the disk refuses a write (ENOSPC, EIO), made to fail through the journal's file-system
 * seam: the write is refused with a StorageUnavailableError, nothing of it becomes visible (reads, searches,
 * counts, history, records), the journal is cut back so a restart does not see it either, and the next write
 * succeeds once the fault is gone. Also: writes of one resource wait for each other, concurrent writes share
 * fdatasyncs, start-up rewrites nothing, and compaction checks free space first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompactionSkippedError, JournalWriteError, openEmbeddedStorage } from '../../../src/storage/embedded';
import { JOURNAL_FILE } from '../../../src/storage/embedded/journal';
import { StorageUnavailableError, VersionConflictError } from '../../../src/storage/ports';
import type { Storage } from '../../../src/storage/ports';
import { FaultyJournalFileSystem } from '../../helpers/faulty-journal-fs';
import { version, writeOf } from '../contract-harness';

const P = 'proj';
let dataDir: string;
let disk: FaultyJournalFileSystem;
const journalPath = (): string => path.join(dataDir, JOURNAL_FILE);

function recordingLogger(): { warn: jest.Mock; info: jest.Mock; error: jest.Mock } {
  return { warn: jest.fn(), info: jest.fn(), error: jest.fn() };
}

function open(options: { compactionMinBytes?: number; logger?: ReturnType<typeof recordingLogger> } = {}): Promise<Storage> {
  return openEmbeddedStorage({ dataDir, journalFileSystem: disk, ...options });
}

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-faults-'));
  disk = new FaultyJournalFileSystem();
});

afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe.each([
  ['a write that runs out of space half-way (ENOSPC)', (d: FaultyJournalFileSystem) => (d.writeFault = 'ENOSPC')],
  ['an fdatasync that fails (EIO)', (d: FaultyJournalFileSystem) => (d.syncFault = 'EIO')],
])('%s', (_name, inject) => {
  test('refuses the write, shows nothing of it, cuts the journal back, and takes the next write once healed', async () => {
    const logger = recordingLogger();
    const storage = await open({ logger });
    await storage.resources.write([writeOf(version(P, 'Patient', 'a', 1))]);
    await storage.records.put({ kind: 'grant', key: 'g1', value: { n: 1 } });
    const bytes = fs.statSync(journalPath()).size;

    const injected = inject(disk);
    const update = storage.resources.write([writeOf(version(P, 'Patient', 'a', 2))]);
    const create = storage.resources.write([writeOf(version(P, 'Patient', 'b', 1))]);
    const put = storage.records.put({ kind: 'grant', key: 'g2', value: { n: 2 } });
    const consume = storage.records.consume('grant', 'g1');
    for (const refused of [update, create, put, consume]) {
      await expect(refused).rejects.toBeInstanceOf(JournalWriteError);
      await expect(refused).rejects.toBeInstanceOf(StorageUnavailableError);
    }
    expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(1);
    expect(await storage.resources.readVersion(P, 'Patient', 'a', 2)).toBeUndefined();
    expect(await storage.resources.readCurrent(P, 'Patient', 'b')).toBeUndefined();
    expect(await storage.resources.count({ project: P })).toBe(1);
    expect(await storage.resources.countHistory({ project: P })).toBe(1);
    expect(await storage.records.get('grant', 'g2')).toBeUndefined();
    expect((await storage.records.get('grant', 'g1'))?.value).toEqual({ n: 1 });
    expect(fs.statSync(journalPath()).size).toBe(bytes);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ err: injected, stopped: false }),
      'journal: a write failed; its changes were refused and nothing of them is visible',
    );
    expect(await storage.ping()).toBe(true);

    disk.heal();
    await storage.resources.write([writeOf(version(P, 'Patient', 'a', 2))]);
    await storage.records.put({ kind: 'grant', key: 'g2', value: { n: 2 } });
    expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(2);
    await storage.close();

    const reopened = await openEmbeddedStorage({ dataDir });
    try {
      expect((await reopened.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(2);
      expect(await reopened.resources.readCurrent(P, 'Patient', 'b')).toBeUndefined();
      expect(await reopened.resources.countHistory({ project: P })).toBe(2);
      expect((await reopened.records.get('grant', 'g1'))?.value).toEqual({ n: 1 });
      expect((await reopened.records.get('grant', 'g2'))?.value).toEqual({ n: 2 });
    } finally {
      await reopened.close();
    }
    expect(fs.existsSync(path.join(dataDir, 'journal.rejected'))).toBe(false);
  });
});

describe('a failure the journal cannot undo', () => {
  test('stops writes until a restart, which replays a consistent state', async () => {
    const logger = recordingLogger();
    const storage = await open({ logger });
    await storage.resources.write([writeOf(version(P, 'Patient', 'a', 1))]);
    disk.syncFault = 'EIO';
    disk.stickySyncFault = true;
    const refused = storage.resources.write([writeOf(version(P, 'Patient', 'a', 2))]);
    await expect(refused).rejects.toMatchObject({ stopped: true });
    await expect(refused).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(await storage.ping()).toBe(false);
    disk.heal();
    await expect(storage.records.put({ kind: 'k', key: 'k', value: {} })).rejects.toBeInstanceOf(JournalWriteError);
    expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(1);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ stopped: true }),
      'journal: a write failed and could not be undone; refusing writes until restart',
    );
    await storage.close();
    const reopened = await openEmbeddedStorage({ dataDir });
    try {
      // The refused line may or may not have reached the disk; either way the state is whole.
      const current = await reopened.resources.readCurrent(P, 'Patient', 'a');
      expect([1, 2]).toContain(current?.versionId);
      expect(await reopened.resources.countHistory({ project: P })).toBe(current?.versionId);
      await reopened.resources.write([writeOf(version(P, 'Patient', 'b', 1))]);
    } finally {
      await reopened.close();
    }
  });
});

describe('writes not yet durable', () => {
  test('are invisible to reads until their fdatasync is done', async () => {
    const storage = await open();
    try {
      const first = version(P, 'Patient', 'a', 1);
      const writing = storage.resources.write([writeOf(first)]);
      const putting = storage.records.put({ kind: 'grant', key: 'g', value: {} });
      // Search paging starts its snapshot no later than this.
      expect(storage.resources.oldestPendingWrite?.()).toBe(first.lastUpdated);
      expect(await storage.resources.readCurrent(P, 'Patient', 'a')).toBeUndefined();
      expect(await storage.resources.search({ project: P })).toEqual([]);
      expect(await storage.records.get('grant', 'g')).toBeUndefined();
      await Promise.all([writing, putting]);
      expect(storage.resources.oldestPendingWrite?.()).toBeUndefined();
      expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(1);
      expect(await storage.records.get('grant', 'g')).toBeDefined();
    } finally {
      await storage.close();
    }
  });

  test('a second write of the same version waits for the first: a conflict if it lands, a success if it is refused', async () => {
    const storage = await open();
    try {
      await storage.resources.write([writeOf(version(P, 'Patient', 'a', 1))]);
      const first = storage.resources.write([writeOf(version(P, 'Patient', 'a', 2, { index: { n: 1 } }))]);
      const second = storage.resources.write([writeOf(version(P, 'Patient', 'a', 2, { index: { n: 2 } }))]);
      await first;
      await expect(second).rejects.toBeInstanceOf(VersionConflictError);

      disk.writeFault = 'ENOSPC';
      disk.writeFaultsLeft = 1;
      const refused = storage.resources.write([writeOf(version(P, 'Patient', 'a', 3, { index: { n: 3 } }))]);
      // Same resource, same expected version: it waits for the first to settle and is then checked again.
      const retried = storage.resources.write([writeOf(version(P, 'Patient', 'a', 3, { index: { n: 4 } }))]);
      await expect(refused).rejects.toBeInstanceOf(JournalWriteError);
      await retried;
      expect((await storage.resources.readCurrent(P, 'Patient', 'a', { withIndex: true }))?.index).toEqual({ n: 4 });
    } finally {
      await storage.close();
    }
  });

  test('consume and insert stay single-winner while the first change is in flight', async () => {
    const storage = await open();
    try {
      await storage.records.put({ kind: 'code', key: 'c', value: { v: 1 } });
      const consumes = await Promise.all([storage.records.consume('code', 'c'), storage.records.consume('code', 'c')]);
      expect(consumes.filter((r) => r !== undefined)).toHaveLength(1);
      const inserts = await Promise.all([
        storage.records.insert({ kind: 'grant', key: 'g', value: { v: 1 } }),
        storage.records.insert({ kind: 'grant', key: 'g', value: { v: 2 } }),
      ]);
      expect(inserts).toEqual([true, false]);
      expect((await storage.records.get('grant', 'g'))?.value).toEqual({ v: 1 });
      const [removed] = await Promise.all([
        storage.records.deleteMany('grant', { v: 1 }),
        storage.records.put({ kind: 'grant', key: 'h', value: { v: 1 } }),
      ]);
      expect(removed).toBeGreaterThanOrEqual(1);
    } finally {
      await storage.close();
    }
  });
});

describe('group commit', () => {
  test('concurrent writes share fdatasyncs, and each is acknowledged only once durable', async () => {
    const storage = await open();
    try {
      const before = disk.datasyncs;
      const writes = Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0
          ? storage.resources.write([writeOf(version(P, 'Patient', `p${i}`, 1))])
          : storage.records.put({ kind: 'grant', key: `g${i}`, value: { i } }),
      );
      await Promise.all(writes);
      expect(disk.datasyncs - before).toBeLessThan(10);
      expect(await storage.resources.count({ project: P })).toBe(50);
    } finally {
      await storage.close();
    }
  });
});

describe('start-up and compaction on a full disk', () => {
  test('opening replays without rewriting the journal', async () => {
    const storage = await open();
    for (let i = 0; i < 20; i++) await storage.records.put({ kind: 'session', key: 's', value: { i } });
    await storage.close();
    const before = fs.readFileSync(journalPath());
    const inode = fs.statSync(journalPath()).ino;
    disk.freeBytesOverride = 0;
    const reopened = await open();
    try {
      expect((await reopened.records.get('session', 's'))?.value).toEqual({ i: 19 });
      expect(fs.readFileSync(journalPath()).equals(before)).toBe(true);
      expect(fs.statSync(journalPath()).ino).toBe(inode);
    } finally {
      await reopened.close();
    }
  });

  test('compaction without room for the new file is skipped and leaves the journal as it was', async () => {
    const storage = await open();
    try {
      for (let i = 0; i < 20; i++) await storage.records.put({ kind: 'session', key: 's', value: { i } });
      const before = fs.readFileSync(journalPath());
      disk.freeBytesOverride = before.length;
      await expect(storage.compact()).rejects.toBeInstanceOf(CompactionSkippedError);
      expect(fs.readFileSync(journalPath()).equals(before)).toBe(true);
      await storage.records.put({ kind: 'session', key: 's', value: { i: 20 } });
      disk.heal();
      await storage.compact();
      expect(fs.statSync(journalPath()).size).toBeLessThan(before.length);
      expect((await storage.records.get('session', 's'))?.value).toEqual({ i: 20 });
    } finally {
      await storage.close();
    }
  });

  test('automatic compaction runs once the journal has grown, and skips with a warning when space is short', async () => {
    const logger = recordingLogger();
    const storage = await open({ compactionMinBytes: 4096, logger });
    try {
      disk.freeBytesOverride = 1024;
      for (let i = 0; i < 100; i++) await storage.records.put({ kind: 'session', key: 's', value: { i, pad: 'x'.repeat(40) } });
      await new Promise((resolve) => setImmediate(resolve));
      expect(logger.warn).toHaveBeenCalledWith(
        expect.objectContaining({ err: expect.stringMatching(/not enough free space to compact the journal: \d+ bytes needed, 1024 available/) }),
        'journal: compaction skipped',
      );
      expect(fs.readFileSync(journalPath(), 'utf8')).toContain('x'.repeat(40));
      disk.heal();
      // The compaction runs in the background while writes go on: write until it reports completion.
      const compacted = (): boolean => logger.info.mock.calls.some(([, message]) => message === 'journal: compacted');
      for (let i = 0; i < 5000 && !compacted(); i++) {
        await storage.records.put({ kind: 'session', key: 's', value: { i, pad: 'y'.repeat(40) } });
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(logger.info).toHaveBeenCalledWith(expect.objectContaining({ bytes: expect.any(Number) }), 'journal: compacted');
      await storage.records.put({ kind: 'session', key: 's', value: { last: true } });
      // Every value written before the compaction began was superseded: none is left in the file.
      expect(fs.readFileSync(journalPath(), 'utf8')).not.toContain('x'.repeat(40));
    } finally {
      await storage.close();
    }
    const reopened = await openEmbeddedStorage({ dataDir });
    expect((await reopened.records.get('session', 's'))?.value).toEqual({ last: true });
    await reopened.close();
  });
});
