/**
 * The start-up snapshot (`snapshot.ndjson`): a store started from it plus the journal after it answers exactly as
 * a store started from the whole journal (random write sequences, searches that define indexes in between, a
 * snapshot taken mid-way with writes after it); a damaged, cut, stale or foreign snapshot is ignored with a
 * warning, never trusted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { SNAPSHOT_FILE } from '../../../src/storage/embedded/snapshot';
import type { StorageLogger } from '../../../src/storage/logger';
import type { Filter, ResourceWrite, Storage } from '../../../src/storage/ports';
import { observeStore } from '../../helpers/store-observation';
import type { ObservationPlan } from '../../helpers/store-observation';
import { seededRandom as random } from '../../helpers/seeded-random';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-snapshot-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A copy of a data directory as it is on disk now (what a crash would leave), without its lock. */
function copyDir(from: string, withSnapshot: boolean): string {
  const to = tempDir();
  for (const name of fs.readdirSync(from)) {
    if (name === 'LOCK' || (!withSnapshot && name === SNAPSHOT_FILE)) continue;
    fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
  return to;
}

interface Logged {
  warnings: string[];
  infos: string[];
  logger: StorageLogger;
}
function recordingLogger(): Logged {
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger = {
    info: (_: unknown, message: string) => infos.push(message),
    warn: (fields: unknown, message: string) => warnings.push(`${message} ${JSON.stringify(fields)}`),
    error: (fields: unknown, message: string) => warnings.push(`${message} ${JSON.stringify(fields)}`),
  } as unknown as StorageLogger;
  return { warnings, infos, logger };
}

const PROJECTS = ['p1', 'p2'];
const TYPES = ['Patient', 'Observation'];
const CODES = ['a', 'b', 'c'];
const SYSTEMS = ['http://s1', 'http://s2'];

const PLAN: ObservationPlan = {
  projects: PROJECTS,
  types: TYPES,
  recordKinds: ['note', 'session'],
  filters: [
    ...PROJECTS.flatMap((project): Filter[] => [
      { project, type: 'Observation', deleted: false },
      { project, type: 'Observation', deleted: false, 'index.code': { $elemMatch: { s: SYSTEMS[0], c: 'a' } } },
      { project, type: 'Observation', deleted: false, 'index.code': { $elemMatch: { c: 'b' } } },
      { project, type: 'Patient', deleted: false, 'index.family': 'f1' },
      { project, type: { $in: TYPES }, deleted: false, 'index.n': { $gte: 5 } },
      { project, deleted: true },
      { project, id: 'r3' },
      { project, uniqueKeys: 'Patient.email|e1' },
    ]),
  ],
};

/** Random writes: creates, updates, deletes, batches, records; some refused (version conflicts), as in real use. */
async function randomWrites(storage: Storage, next: () => number, count: number): Promise<void> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  for (let i = 0; i < count; i++) {
    const roll = next();
    if (roll < 0.15) {
      const key = `k${Math.floor(next() * 6)}`;
      if (next() < 0.3) await storage.records.delete(pick(['note', 'session']), key);
      else await storage.records.put({ kind: pick(['note', 'session']), key, value: { i, text: `v${i}` } });
      continue;
    }
    if (roll < 0.2) {
      await storage.resources.expunge(pick(PROJECTS), pick(TYPES), [`r${Math.floor(next() * 8)}`, `r${Math.floor(next() * 8)}`]);
      continue;
    }
    const writes: ResourceWrite[] = [];
    const size = roll < 0.25 ? 2 : 1;
    const seen = new Set<string>();
    for (let j = 0; j < size; j++) {
      const project = pick(PROJECTS);
      const type = pick(TYPES);
      const id = `r${Math.floor(next() * 8)}`;
      if (seen.has(`${project}/${type}/${id}`)) continue;
      seen.add(`${project}/${type}/${id}`);
      const current = await storage.resources.readCurrent(project, type, id);
      const versionId = (current?.versionId ?? 0) + 1;
      const deleted = current !== undefined && !current.deleted && next() < 0.2;
      const code = [{ s: pick(SYSTEMS), c: pick(CODES) }, ...(next() < 0.5 ? [{ c: pick(CODES) }] : [])];
      writes.push({
        expectedVersion: current?.versionId ?? 0,
        doc: {
          project,
          type,
          id,
          versionId,
          lastUpdated: new Date(Date.UTC(2026, 0, 1) + i * 1000 + j).toISOString(),
          deleted,
          method: deleted ? 'delete' : current ? 'update' : 'create',
          ...(deleted
            ? {}
            : {
                resource: { resourceType: type, id, meta: { versionId: String(versionId) }, valueInteger: i },
                index: { code, family: `f${Math.floor(next() * 3)}`, n: Math.floor(next() * 10) },
                sort: { n: i },
                ...(type === 'Patient' ? { uniqueKeys: [`Patient.email|e${Math.floor(next() * 4)}`] } : {}),
              }),
        },
      });
    }
    await storage.resources.write(writes).catch((err: Error) => {
      // A unique key held by another resource: refused, as the server would.
      if (err.name !== 'UniqueConflictError') throw err;
    });
    if (next() < 0.05) await storage.resources.search(pick(PLAN.filters), { limit: 3, sort: [['_id', 1]] });
  }
}

async function observe(dataDir: string, logged = recordingLogger()): Promise<Record<string, unknown>> {
  const storage = await openEmbeddedStorage({ dataDir, logger: logged.logger });
  try {
    return await observeStore(storage, PLAN);
  } finally {
    await storage.close();
  }
}

describe('start-up snapshot', () => {
  test.each([1, 2, 3, 4])('a store started from the snapshot answers as one started from the whole journal (seed %i)', async (seed) => {
    const next = random(seed);
    const dataDir = tempDir();
    // A tiny threshold: snapshots are written in the background again and again while the writes go on.
    const storage = await openEmbeddedStorage({ dataDir, snapshotMinBytes: 2_000 });
    await randomWrites(storage, next, 120);
    // Defines element and path indexes before the snapshot: restored indexes must match the rebuilt ones.
    await observeStore(storage, PLAN);
    await randomWrites(storage, next, 60);
    // As a crash would leave it: the latest background snapshot plus the journal after it.
    const crashed = copyDir(dataDir, true);
    await randomWrites(storage, next, 30);
    await storage.close();

    expect(fs.existsSync(path.join(crashed, SNAPSHOT_FILE))).toBe(true);
    const fromSnapshotAfterCrash = recordingLogger();
    const crashedState = await observe(crashed, fromSnapshotAfterCrash);
    expect(fromSnapshotAfterCrash.infos).toContain('snapshot: loaded');
    expect(fromSnapshotAfterCrash.warnings).toEqual([]);
    expect(crashedState).toEqual(await observe(copyDir(crashed, false)));

    const fromSnapshot = recordingLogger();
    const state = await observe(copyDir(dataDir, true), fromSnapshot);
    expect(fromSnapshot.infos).toContain('snapshot: loaded');
    expect(state).toEqual(await observe(copyDir(dataDir, false)));
  }, 60_000);

  test('a damaged, cut or stale snapshot is ignored with a warning and the journal replayed in full', async () => {
    const dataDir = tempDir();
    const storage = await openEmbeddedStorage({ dataDir });
    await randomWrites(storage, random(9), 80);
    await observeStore(storage, PLAN);
    await storage.close();
    const expected = await observe(copyDir(dataDir, false));
    const snapshot = fs.readFileSync(path.join(dataDir, SNAPSHOT_FILE));

    const variants: Array<[string, (dir: string) => void, RegExp]> = [
      ['one byte changed', (dir) => {
        const damaged = Buffer.from(snapshot);
        const at = Math.floor(damaged.length / 2);
        damaged[at] = damaged[at] === 0x31 ? 0x32 : 0x31;
        fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), damaged);
      }, /checksum mismatch/],
      ['cut short', (dir) => fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), snapshot.subarray(0, Math.floor(snapshot.length * 0.7))), /incomplete/],
      ['empty', (dir) => fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), ''), /incomplete/],
      ['journal shorter than it covers', (dir) => {
        const journal = path.join(dir, 'journal.ndjson');
        const text = fs.readFileSync(journal, 'utf8');
        fs.writeFileSync(journal, text.slice(0, text.lastIndexOf('\n', text.length - 2) + 1));
      }, /the journal has/],
    ];
    for (const [label, spoil, reason] of variants) {
      const dir = copyDir(dataDir, true);
      spoil(dir);
      const logged = recordingLogger();
      const state = await observe(dir, logged);
      expect([label, logged.warnings.some((w) => w.startsWith('snapshot: ignored') && reason.test(w))]).toEqual([label, true]);
      expect(logged.infos).not.toContain('snapshot: loaded');
      if (label !== 'journal shorter than it covers') expect(state).toEqual(expected);
    }
  }, 60_000);

  test('a snapshot older than a compaction does not match the compacted journal and is ignored', async () => {
    const dataDir = tempDir();
    const storage = await openEmbeddedStorage({ dataDir });
    await randomWrites(storage, random(11), 60);
    await storage.close();
    const stale = fs.readFileSync(path.join(dataDir, SNAPSHOT_FILE));

    const reopened = await openEmbeddedStorage({ dataDir });
    await randomWrites(reopened, random(12), 30);
    await reopened.compact();
    await reopened.close();
    const expected = await observe(copyDir(dataDir, false));

    const dir = copyDir(dataDir, false);
    fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), stale);
    const logged = recordingLogger();
    expect(await observe(dir, logged)).toEqual(expected);
    expect(logged.warnings.some((w) => /snapshot: ignored.*(does not match|the journal has)/.test(w))).toBe(true);
  }, 60_000);

  test('a compaction deletes the snapshot, which may hold values the compaction erases, and a new one follows', async () => {
    const dataDir = tempDir();
    const first = await openEmbeddedStorage({ dataDir });
    await first.records.put({ kind: 'secret', key: 'k', value: { text: 'former-value' } });
    await first.close();
    const snapshotFile = path.join(dataDir, SNAPSHOT_FILE);
    expect(fs.readFileSync(snapshotFile, 'utf8')).toContain('former-value');

    const storage = await openEmbeddedStorage({ dataDir });
    await storage.records.put({ kind: 'secret', key: 'k', value: { text: 'current-value' } });
    await storage.compact();
    expect(fs.existsSync(snapshotFile) ? fs.readFileSync(snapshotFile, 'utf8') : '').not.toContain('former-value');
    await storage.close();
    expect(fs.readFileSync(snapshotFile, 'utf8')).toContain('current-value');
    expect(fs.readFileSync(snapshotFile, 'utf8')).not.toContain('former-value');
    const logged = recordingLogger();
    const reopened = await openEmbeddedStorage({ dataDir, logger: logged.logger });
    expect((await reopened.records.get('secret', 'k'))?.value).toEqual({ text: 'current-value' });
    expect(logged.infos).toContain('snapshot: loaded');
    await reopened.close();
  }, 30_000);

  test('the snapshot file is private and a half-written one left by a crash is removed at start', async () => {
    const dataDir = tempDir();
    const storage = await openEmbeddedStorage({ dataDir });
    await randomWrites(storage, random(5), 20);
    await storage.close();
    if (process.platform !== 'win32') expect((fs.statSync(path.join(dataDir, SNAPSHOT_FILE)).mode & 0o777).toString(8)).toBe('600');
    fs.writeFileSync(path.join(dataDir, `${SNAPSHOT_FILE}.tmp`), '{"t":"snapshot"');
    const logged = recordingLogger();
    await observe(dataDir, logged);
    expect(fs.existsSync(path.join(dataDir, `${SNAPSHOT_FILE}.tmp`))).toBe(false);
    expect(logged.infos).toContain('snapshot: loaded');
  }, 30_000);
});
