/**
 * Compaction of an open journal (`Storage.compact`): afterwards the file holds the current state only — a replaced
 * value is gone from disk — and appends made while it runs are kept.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { JOURNAL_FILE } from '../../../src/storage/embedded/journal';
import { observeStore } from '../../helpers/store-observation';

let dataDir: string;
const journal = (): string => fs.readFileSync(path.join(dataDir, JOURNAL_FILE), 'utf8');

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-compact-'));
});
afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('compacting an open journal', () => {
  it('drops replaced values from the file and keeps writes made during and after it', async () => {
    const storage = await openEmbeddedStorage({ dataDir });
    await storage.records.put({ kind: 'secret', key: 'k', value: { text: 'former-value' } });
    await storage.records.put({ kind: 'secret', key: 'k', value: { text: 'current-value' } });
    expect(journal()).toContain('former-value');

    const during = storage.records.put({ kind: 'note', key: 'during', value: { n: 1 } });
    await storage.compact();
    await during;
    await storage.records.put({ kind: 'note', key: 'after', value: { n: 2 } });
    expect(journal()).not.toContain('former-value');
    expect(journal()).toContain('current-value');
    if (process.platform !== 'win32') expect((fs.statSync(path.join(dataDir, JOURNAL_FILE)).mode & 0o777).toString(8)).toBe('600');
    await storage.close();

    const reopened = await openEmbeddedStorage({ dataDir });
    expect((await reopened.records.get('secret', 'k'))?.value).toEqual({ text: 'current-value' });
    expect((await reopened.records.get('note', 'during'))?.value).toEqual({ n: 1 });
    expect((await reopened.records.get('note', 'after'))?.value).toEqual({ n: 2 });
    await reopened.close();
  });
});

describe('compacting while writes go on', () => {
  it('acknowledges writes during the copy, keeps every version at its new position, and matches a full replay', async () => {
    const storage = await openEmbeddedStorage({ dataDir });
    const write = (id: string, version: number, text: string): Promise<void> =>
      storage.resources.write([
        {
          expectedVersion: version - 1,
          doc: {
            project: 'p',
            type: 'Basic',
            id,
            versionId: version,
            lastUpdated: new Date(Date.UTC(2026, 0, 1, 0, 0, version)).toISOString(),
            deleted: false,
            method: version === 1 ? 'create' : 'update',
            resource: { resourceType: 'Basic', id, text: `${text}-${'z'.repeat(200)}` },
            index: { code: [{ s: 'http://s', c: id.slice(0, 2) }] },
          },
        },
      ]);
    // Enough versions that the copy takes several chunks.
    for (let v = 1; v <= 40; v++) await Promise.all(Array.from({ length: 100 }, (_, i) => write(`id${i}`, v, `v${v}`)));
    await storage.resources.search({ project: 'p', type: 'Basic', deleted: false, 'index.code': { $elemMatch: { s: 'http://s', c: 'id' } } });

    let compactionDone = false;
    let acknowledgedDuring = 0;
    const compaction = storage.compact().then((bytes) => {
      compactionDone = true;
      return bytes;
    });
    let v = 41;
    while (!compactionDone && v < 400) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          write(`id${i}`, v, `v${v}`).then(() => {
            if (!compactionDone) acknowledgedDuring++;
          }),
        ),
      );
      v++;
    }
    await compaction;
    expect(acknowledgedDuring).toBeGreaterThan(0);
    // Writes after the compaction land after the copied tail.
    await write('id0', v, `v${v}`);

    const plan = {
      projects: ['p'],
      types: ['Basic'],
      recordKinds: [],
      filters: [{ project: 'p', type: 'Basic', deleted: false }, { project: 'p', type: 'Basic', deleted: false, 'index.code': { $elemMatch: { s: 'http://s', c: 'id' } } }],
    };
    const live = await observeStore(storage, plan);
    expect(live['vread p/Basic/id0/1']).toEqual([1, '2026-01-01T00:00:01.000Z', { resourceType: 'Basic', id: 'id0', text: `v1-${'z'.repeat(200)}` }]);
    expect(live[`vread p/Basic/id0/${v}`]).toEqual([v, expect.any(String), { resourceType: 'Basic', id: 'id0', text: `v${v}-${'z'.repeat(200)}` }]);
    await storage.close();

    const snapshotFile = path.join(dataDir, 'snapshot.ndjson');
    const reopened = await openEmbeddedStorage({ dataDir });
    expect(await observeStore(reopened, plan)).toEqual(live);
    await reopened.close();
    fs.rmSync(snapshotFile);
    const replayed = await openEmbeddedStorage({ dataDir });
    expect(await observeStore(replayed, plan)).toEqual(live);
    await replayed.close();
  }, 60_000);
});
