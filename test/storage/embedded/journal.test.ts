/**
 * Durability of the embedded store: replay on reopen, damaged last lines (set aside in journal.rejected),
 * compaction, corruption, group commit and the data directory lock.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DataDirLockedError,
  JournalClosedError,
  JournalCorruptionError,
  openEmbeddedStorage,
} from '../../../src/storage/embedded';
import { JOURNAL_FILE, Journal, REJECTED_FILE } from '../../../src/storage/embedded/journal';
import { UniqueConflictError } from '../../../src/storage/ports';
import type { Storage } from '../../../src/storage/ports';
import { at, deletion, version, writeOf } from '../contract-harness';

const P = 'proj';
let dataDir: string;
const journalPath = (): string => path.join(dataDir, JOURNAL_FILE);
const journalLines = (): string[] => fs.readFileSync(journalPath(), 'utf8').split('\n').filter((l) => l !== '');
const rejectedPath = (): string => path.join(dataDir, REJECTED_FILE);
const rejected = (): Array<Record<string, unknown>> =>
  fs
    .readFileSync(rejectedPath(), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function recordingLogger(): { warn: jest.Mock; info: jest.Mock } {
  return { warn: jest.fn(), info: jest.fn() };
}

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-journal-'));
});

afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function withStorage<T>(fn: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = await openEmbeddedStorage({ dataDir });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

async function seed(storage: Storage): Promise<void> {
  await storage.resources.write([writeOf(version(P, 'Patient', 'a', 1, { index: { family: 'smith' } }))]);
  await storage.resources.write([writeOf(version(P, 'Patient', 'a', 2, { index: { family: 'smythe' } }))]);
  await storage.resources.write([
    writeOf(version(P, 'User', 'u1', 1, { uniqueKeys: ['User.email|a@x.org'] })),
    writeOf(version(P, 'Patient', 'b', 1, { index: { family: 'jones' } })),
  ]);
  await storage.resources.write([writeOf(deletion(P, 'Patient', 'b', 2, at(9)))]);
  await storage.records.put({ kind: 'key', key: 'k1', value: { alg: 'RS256' } });
  await storage.records.put({ kind: 'code', key: 'c1', value: { n: 1 }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
  await storage.records.put({ kind: 'code', key: 'c2', value: { n: 2 } });
  await storage.records.consume('code', 'c2');
}

describe('reopening', () => {
  test('restores current documents, history, unique keys and records', async () => {
    await withStorage(seed);
    await withStorage(async (storage) => {
      expect((await storage.resources.readCurrent(P, 'Patient', 'a', { withIndex: true }))?.index).toEqual({ family: 'smythe' });
      expect((await storage.resources.readVersion(P, 'Patient', 'a', 1))?.index).toEqual({ family: 'smith' });
      expect((await storage.resources.readCurrent(P, 'Patient', 'b'))?.deleted).toBe(true);
      expect(await storage.resources.countHistory({ project: P })).toBe(5);
      expect((await storage.resources.search({ project: P, 'index.family': 'smythe' })).map((d) => d.id)).toEqual(['a']);
      expect(await storage.resources.search({ project: P, 'index.family': 'jones' })).toEqual([]);
      const clash = storage.resources.write([writeOf(version(P, 'User', 'u2', 1, { uniqueKeys: ['User.email|a@x.org'] }))]);
      await expect(clash).rejects.toBeInstanceOf(UniqueConflictError);
      expect((await storage.records.get('key', 'k1'))?.value).toEqual({ alg: 'RS256' });
      expect((await storage.records.get('code', 'c1'))?.value).toEqual({ n: 1 });
      expect(await storage.records.get('code', 'c2')).toBeUndefined();
    });
  });

  test('writes after close are refused', async () => {
    const storage = await openEmbeddedStorage({ dataDir });
    await storage.close();
    await expect(storage.resources.write([writeOf(version(P, 'Patient', 'a', 1))])).rejects.toBeInstanceOf(JournalClosedError);
    await expect(storage.records.put({ kind: 'k', key: 'k', value: {} })).rejects.toBeInstanceOf(JournalClosedError);
    expect(await storage.ping()).toBe(false);
  });
});

describe('torn and corrupt journals', () => {
  test('a torn last line is not replayed: it is reported with what it was and kept aside in journal.rejected', async () => {
    await withStorage(seed);
    const before = fs.readFileSync(journalPath(), 'utf8');
    const torn = '{"t":"resources","docs":[{"project":"proj","type":"Patient","id":"c","versionId":1,"lastUpdated":"2026-01-0';
    fs.appendFileSync(journalPath(), torn);
    const logger = recordingLogger();
    const storage = await openEmbeddedStorage({ dataDir, logger });
    try {
      const lineNumber = before.split('\n').length;
      expect(logger.warn).toHaveBeenCalledWith(
        expect.objectContaining({
          lineNumber,
          offset: Buffer.byteLength(before),
          entry: 'resources',
          resources: [{ type: 'Patient', id: 'c', versionId: 1 }],
          rejectedFile: rejectedPath(),
        }),
        'journal: set aside a damaged last line (an interrupted, unacknowledged write of Patient/c/_history/1)',
      );
      expect(await storage.resources.readCurrent(P, 'Patient', 'c')).toBeUndefined();
      expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(2);
      // Cut from the journal, nothing else rewritten; appends continue on a clean line.
      expect(fs.readFileSync(journalPath(), 'utf8')).toBe(before);
      await storage.resources.write([writeOf(version(P, 'Patient', 'd', 1))]);
    } finally {
      await storage.close();
    }
    expect(rejected()).toEqual([
      expect.objectContaining({ lineNumber: before.split('\n').length, entry: 'resources', resources: [{ type: 'Patient', id: 'c', versionId: 1 }], text: torn }),
    ]);
    if (process.platform !== 'win32') expect(fs.statSync(rejectedPath()).mode & 0o777).toBe(0o600);
    await withStorage(async (storage) => {
      expect((await storage.resources.readCurrent(P, 'Patient', 'd'))?.versionId).toBe(1);
    });
    expect(rejected()).toHaveLength(1);
  });

  test('an unparseable complete last line is set aside too, after earlier ones', async () => {
    await withStorage(seed);
    fs.writeFileSync(rejectedPath(), '{"earlier":true}\n', { mode: 0o600 });
    fs.appendFileSync(journalPath(), '\u0000\u0000garbage\n');
    await withStorage(async (storage) => {
      expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(2);
    });
    expect(fs.readFileSync(journalPath(), 'utf8')).not.toContain('garbage');
    expect(rejected()).toEqual([{ earlier: true }, expect.objectContaining({ text: '\u0000\u0000garbage', terminated: true })]);
  });

  test('a torn record line is reported by kind only (record keys may be digests of secrets)', async () => {
    await withStorage(seed);
    fs.appendFileSync(journalPath(), '{"t":"record-put","record":{"kind":"refresh-token","key":"c2VjcmV0LWRpZ2Vz');
    const logger = recordingLogger();
    const storage = await openEmbeddedStorage({ dataDir, logger });
    await storage.close();
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ entry: 'record-put', kind: 'refresh-token' }),
      'journal: set aside a damaged last line (an interrupted, unacknowledged write of record-put refresh-token)',
    );
    expect(JSON.stringify(logger.warn.mock.calls)).not.toContain('c2VjcmV0');
    const [entry] = rejected();
    expect(entry).toEqual(expect.objectContaining({ entry: 'record-put', kind: 'refresh-token' }));
  });

  test('a torn multi-document write is dropped as a whole', async () => {
    await withStorage(seed);
    const before = fs.readFileSync(journalPath(), 'utf8');
    await withStorage((storage) =>
      storage.resources.write([
        writeOf(version(P, 'Patient', 'x1', 1)),
        writeOf(version(P, 'Patient', 'x2', 1)),
        writeOf(version(P, 'Patient', 'x3', 1)),
      ]),
    );
    const after = fs.readFileSync(journalPath(), 'utf8');
    const batchLine = after.slice(before.length);
    expect(batchLine.trimEnd().split('\n')).toHaveLength(1);
    fs.truncateSync(journalPath(), before.length + Math.floor(batchLine.length * 0.7));
    await withStorage(async (storage) => {
      for (const id of ['x1', 'x2', 'x3']) expect(await storage.resources.readCurrent(P, 'Patient', id)).toBeUndefined();
      expect((await storage.resources.readCurrent(P, 'Patient', 'a'))?.versionId).toBe(2);
    });
  });

  test('a damaged line before the last one fails to open with a clear error and leaves the file alone', async () => {
    await withStorage(seed);
    const lines = journalLines();
    lines[2] = '{"t":"resources","docs":[{"project":"proj",';
    const damaged = `${lines.join('\n')}\n`;
    fs.writeFileSync(journalPath(), damaged);
    const opening = openEmbeddedStorage({ dataDir });
    await expect(opening).rejects.toBeInstanceOf(JournalCorruptionError);
    await expect(opening).rejects.toThrow(/corrupt at line 3 \(byte \d+\)/);
    await expect(opening).rejects.toThrow(`DATA_DIR ${dataDir}: the journal ${JOURNAL_FILE} is corrupt`);
    expect(fs.existsSync(rejectedPath())).toBe(false);
    expect(fs.readFileSync(journalPath(), 'utf8')).toBe(damaged);
    expect(fs.existsSync(path.join(dataDir, 'LOCK'))).toBe(false);
  });

  test('a well-formed line of an unknown kind in the middle is corruption as well', async () => {
    await withStorage(seed);
    const lines = journalLines();
    lines.splice(1, 0, '{"t":"mystery"}');
    fs.writeFileSync(journalPath(), `${lines.join('\n')}\n`);
    await expect(openEmbeddedStorage({ dataDir })).rejects.toThrow(/line 2.*unknown entry type "mystery"/);
  });
});

describe('compaction', () => {
  test('rewrites the journal with only the current state, dropping replaced, deleted and expired records', async () => {
    await withStorage(async (storage) => {
      for (let i = 0; i < 300; i++) await storage.records.put({ kind: 'session', key: 's1', value: { i } });
      for (let i = 0; i < 100; i++) {
        await storage.records.put({ kind: 'code', key: `c${i}`, value: { i } });
        await storage.records.delete('code', `c${i}`);
      }
      await storage.records.put({ kind: 'code', key: 'short-lived', value: {}, expiresAt: new Date(Date.now() + 50).toISOString() });
      await storage.resources.write([writeOf(version(P, 'Patient', 'a', 1))]);
      await storage.resources.write([writeOf(version(P, 'Patient', 'a', 2))]);
    });
    const linesBefore = journalLines().length;
    const bytesBefore = fs.statSync(journalPath()).size;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await withStorage(async (storage) => {
      expect((await storage.records.get('session', 's1'))?.value).toEqual({ i: 299 });
      expect(await storage.resources.countHistory({ project: P })).toBe(2);
      // Opening replays without rewriting.
      expect(fs.statSync(journalPath()).size).toBe(bytesBefore);
      await storage.compact();
    });
    const lines = journalLines();
    expect(linesBefore).toBeGreaterThan(500);
    expect(fs.statSync(journalPath()).size).toBeLessThan(bytesBefore / 10);
    // header + one resources entry (both versions of a) + one record
    expect(lines).toHaveLength(3);
    expect(fs.readFileSync(journalPath(), 'utf8')).not.toContain('short-lived');
    expect(fs.existsSync(`${journalPath()}.compact-tmp`)).toBe(false);
  });
});

describe('group commit', () => {
  test('concurrent appends share fsyncs and all reach the file', async () => {
    const replayed: unknown[] = [];
    const handlers = { replay: (e: unknown) => replayed.push(e), snapshot: () => [] };
    const journal = await Journal.open({ dataDir, logger: recordingLogger(), handlers });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => journal.append({ t: 'record-put', record: { kind: 'k', key: `k${i}`, value: {} } })),
    );
    expect(journal.stats.lines).toBe(200);
    expect(journal.stats.flushes).toBeLessThan(20);
    await journal.close();
    expect(journalLines()).toHaveLength(200);
    const reopened = await Journal.open({ dataDir, logger: recordingLogger(), handlers });
    await reopened.close();
    expect(replayed).toHaveLength(200);
  });
});

describe('data directory lock', () => {
  test('one storage at a time per directory; a lock left by a dead process is taken over', async () => {
    const first = await openEmbeddedStorage({ dataDir });
    await expect(openEmbeddedStorage({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
    await first.close();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.writeFileSync(path.join(dataDir, 'LOCK'), `${dead}\n`);
    const second = await openEmbeddedStorage({ dataDir });
    expect(await second.ping()).toBe(true);
    await second.close();
    expect(fs.existsSync(path.join(dataDir, 'LOCK'))).toBe(false);
  });
});
