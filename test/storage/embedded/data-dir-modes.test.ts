/**
 * DATA_DIR is private to the server's user: created 0700 with its files 0600 whatever the umask, and an existing
 * directory left open to group and others is tightened at open, with a warning listing what changed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { JOURNAL_FILE } from '../../../src/storage/embedded/journal';

const posix = process.platform !== 'win32';
const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;
let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-modes-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

(posix ? describe : describe.skip)('data directory modes', () => {
  it('creates the directory 0700 and the journal and lock 0600 even with a permissive umask', async () => {
    const dataDir = path.join(root, 'data');
    const umask = process.umask(0o000);
    try {
      const storage = await openEmbeddedStorage({ dataDir });
      await storage.records.put({ kind: 'note', key: 'k', value: { n: 1 } });
      expect(modeOf(dataDir)).toBe(0o700);
      expect(modeOf(path.join(dataDir, 'LOCK'))).toBe(0o600);
      expect(modeOf(path.join(dataDir, JOURNAL_FILE))).toBe(0o600);
      await storage.close();
      // Reopened: the compacted journal is a new file, created 0600 too.
      const again = await openEmbeddedStorage({ dataDir });
      expect(modeOf(path.join(dataDir, JOURNAL_FILE))).toBe(0o600);
      await again.close();
    } finally {
      process.umask(umask);
    }
  });

  it('tightens an existing directory and its files at open and logs what it changed', async () => {
    const dataDir = path.join(root, 'data');
    fs.mkdirSync(path.join(dataDir, 'backup'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, JOURNAL_FILE), '');
    fs.writeFileSync(path.join(dataDir, 'backup', 'old.ndjson'), '{}\n');
    fs.chmodSync(dataDir, 0o755);
    fs.chmodSync(path.join(dataDir, 'backup'), 0o775);
    fs.chmodSync(path.join(dataDir, JOURNAL_FILE), 0o644);
    fs.chmodSync(path.join(dataDir, 'backup', 'old.ndjson'), 0o666);
    const logger = { info: jest.fn(), warn: jest.fn() };

    const storage = await openEmbeddedStorage({ dataDir, logger });
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(path.join(dataDir, 'backup'))).toBe(0o700);
    expect(modeOf(path.join(dataDir, JOURNAL_FILE))).toBe(0o600);
    expect(modeOf(path.join(dataDir, 'backup', 'old.ndjson'))).toBe(0o600);
    expect(logger.warn).toHaveBeenCalledWith(
      {
        dataDir,
        changes: expect.arrayContaining([
          { path: dataDir, from: '0755', to: '0700' },
          { path: path.join(dataDir, JOURNAL_FILE), from: '0644', to: '0600' },
          { path: path.join(dataDir, 'backup'), from: '0775', to: '0700' },
          { path: path.join(dataDir, 'backup', 'old.ndjson'), from: '0666', to: '0600' },
        ]),
      },
      'data directory: removed group and other access',
    );
    await storage.close();

    // Nothing left to change: no warning the next time.
    const quiet = { info: jest.fn(), warn: jest.fn() };
    await (await openEmbeddedStorage({ dataDir, logger: quiet })).close();
    expect(quiet.warn).not.toHaveBeenCalled();
  });
});
