/**
 * Compaction of an open journal (`Storage.compact`): afterwards the file holds the current state only — a replaced
 * value is gone from disk — and appends made while it runs are kept.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { JOURNAL_FILE } from '../../../src/storage/embedded/journal';

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
