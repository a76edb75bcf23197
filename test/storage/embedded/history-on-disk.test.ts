/**
 * Former versions live in the journal, not in memory: vread and history read them back by position, before and
 * after a restart and a compaction, and for lines that shared a group commit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { JOURNAL_FILE } from '../../../src/storage/embedded/journal';
import { buildResourcesLine, splitResourcesLine } from '../../../src/storage/embedded/resources-line';
import type { Storage } from '../../../src/storage/ports';
import { version, writeOf } from '../contract-harness';

const P = 'proj';
let dataDir: string;
const journalPath = (): string => path.join(dataDir, JOURNAL_FILE);

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-history-'));
});
afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Writes `count` versions of Patient/p, each with a note telling its version (and a non-ASCII name). */
async function writeVersions(storage: Storage, count: number, from = 1): Promise<void> {
  for (let v = from; v < from + count; v++) {
    const resource = { resourceType: 'Patient', id: 'p', name: [{ family: `Müller-${v}`, text: '{"quoted" ]} \\ ✓' }] };
    await storage.resources.write([writeOf(version(P, 'Patient', 'p', v, { resource }))]);
  }
}

async function families(storage: Storage): Promise<string[]> {
  const rows = await storage.resources.history({ project: P, type: 'Patient', id: 'p' });
  return rows.map((doc) => (doc.resource as { name: Array<{ family: string }> }).name[0]?.family ?? '');
}

describe('former versions read from the journal', () => {
  it('serves vread and history from the journal, not from memory', async () => {
    const storage = await openEmbeddedStorage({ dataDir });
    try {
      await writeVersions(storage, 3);
      // Rewrite version 1's family in place (same byte length): a vread that answers with the new text read it
      // from the file.
      const text = fs.readFileSync(journalPath(), 'utf8');
      expect(text).toContain('Müller-1');
      fs.writeFileSync(journalPath(), text.replace('Müller-1', 'Mëller-1'));
      const v1 = await storage.resources.readVersion(P, 'Patient', 'p', 1);
      expect(v1?._id).toBe(`${P}/Patient/p/1`);
      expect((v1?.resource as { name: Array<{ family: string }> }).name[0]?.family).toBe('Mëller-1');
      expect(await families(storage)).toEqual(['Müller-3', 'Müller-2', 'Mëller-1']);
    } finally {
      await storage.close();
    }
  });

  it('finds every version after a restart, after a compaction and after writes that follow it', async () => {
    let storage = await openEmbeddedStorage({ dataDir });
    await writeVersions(storage, 4);
    await storage.close();

    storage = await openEmbeddedStorage({ dataDir });
    try {
      expect(await families(storage)).toEqual(['Müller-4', 'Müller-3', 'Müller-2', 'Müller-1']);
      await writeVersions(storage, 2, 5);
      await storage.compact();
      await writeVersions(storage, 1, 7);
      expect(await families(storage)).toEqual(['Müller-7', 'Müller-6', 'Müller-5', 'Müller-4', 'Müller-3', 'Müller-2', 'Müller-1']);
      const v2 = await storage.resources.readVersion(P, 'Patient', 'p', 2);
      expect(v2).toMatchObject({ _id: `${P}/Patient/p/2`, versionId: 2, resource: { name: [{ family: 'Müller-2', text: '{"quoted" ]} \\ ✓' }] } });
      expect(await storage.resources.readVersion(P, 'Patient', 'p', 8)).toBeUndefined();
    } finally {
      await storage.close();
    }

    storage = await openEmbeddedStorage({ dataDir });
    try {
      expect(await families(storage)).toHaveLength(7);
      expect((await storage.resources.readCurrent(P, 'Patient', 'p'))?.versionId).toBe(7);
    } finally {
      await storage.close();
    }
  });

  it('finds each version of a shared group commit at its own position', async () => {
    const storage = await openEmbeddedStorage({ dataDir });
    try {
      await writeVersions(storage, 1);
      // Written at once: one write and one fdatasync carry all the lines.
      await Promise.all(
        ['a', 'b', 'c'].map((id) =>
          storage.resources.write([writeOf(version(P, 'Patient', id, 1, { resource: { resourceType: 'Patient', id, note: `ünïcode ${id}` } }))]),
        ),
      );
      await Promise.all(['a', 'b', 'c'].map((id) => storage.resources.write([writeOf(version(P, 'Patient', id, 2))])));
      for (const id of ['a', 'b', 'c']) {
        expect((await storage.resources.readVersion(P, 'Patient', id, 1))?.resource).toEqual({ resourceType: 'Patient', id, note: `ünïcode ${id}` });
      }
      const rows = await storage.resources.history({ project: P, type: 'Patient' });
      expect(rows.map((doc) => `${doc.id}/${doc.versionId}`).sort()).toEqual(['a/1', 'a/2', 'b/1', 'b/2', 'c/1', 'c/2', 'p/1']);
    } finally {
      await storage.close();
    }
  });

  it('hands out copies: changing a returned version changes nothing stored', async () => {
    const storage = await openEmbeddedStorage({ dataDir });
    try {
      await writeVersions(storage, 2);
      const [current] = await storage.resources.history({ project: P, type: 'Patient', id: 'p', limit: 1 });
      (current?.resource as { id: string }).id = 'changed';
      expect((await storage.resources.readVersion(P, 'Patient', 'p', 2))?.resource).toMatchObject({ id: 'p' });
      expect((await storage.resources.readCurrent(P, 'Patient', 'p'))?.resource).toMatchObject({ id: 'p' });
    } finally {
      await storage.close();
    }
  });
});

describe('resources lines', () => {
  it('splits a line into the exact bytes of each version', () => {
    const versions = [{ a: 'x' }, { b: ['{', '}', '"', '\\', 'ß✓'], c: { d: [] } }, { e: '\u2028' }];
    const { line, spans } = buildResourcesLine(versions.map((v) => JSON.stringify(v)));
    expect(JSON.parse(line)).toEqual({ t: 'resources', docs: versions });
    const bytes = Buffer.from(line);
    const split = splitResourcesLine(line);
    expect(split.spans).toEqual(spans);
    for (const [i, span] of spans.entries()) {
      expect(JSON.parse(bytes.subarray(span.offset, span.offset + span.length).toString('utf8'))).toEqual(versions[i]);
      expect(split.texts[i]).toBe(JSON.stringify(versions[i]));
    }
  });

  it.each([
    '{"t":"resources","docs":[{"a":1}',
    '{"t":"resources","docs":[{"a":1},]}',
    '{"t":"resources","docs":[{"a":1}{"b":2}]}',
    '{"t":"resources","docs":[1]}',
    '{"t":"resources","docs":[{"a":"}]}',
  ])('refuses a malformed line: %s', (line) => {
    expect(() => splitResourcesLine(line)).toThrow('malformed resources entry');
  });
});

describe('expunged resources', () => {
  const secret = (v: number): string => `expunge-me-${v}-4f1c`;
  const versionsOf = async (storage: Storage): Promise<number> => storage.resources.countHistory({ project: P, type: 'AuditEvent' });

  it('are gone from reads and history at once, and their bytes leave DATA_DIR at the next compaction', async () => {
    let storage = await openEmbeddedStorage({ dataDir });
    for (let v = 1; v <= 3; v++) {
      await storage.resources.write([writeOf(version(P, 'AuditEvent', 'old', v, { resource: { resourceType: 'AuditEvent', id: 'old', outcomeDesc: secret(v) } }))]);
    }
    await storage.resources.write([writeOf(version(P, 'AuditEvent', 'kept', 1, { resource: { resourceType: 'AuditEvent', id: 'kept', outcomeDesc: 'kept-record' } }))]);
    await storage.resources.expunge(P, 'AuditEvent', ['old']);
    expect(await storage.resources.readVersion(P, 'AuditEvent', 'old', 1)).toBeUndefined();
    expect(await versionsOf(storage)).toBe(1);
    // Until the compaction the bytes are still in the journal, and a restart replays the expunge.
    expect(fs.readFileSync(journalPath(), 'utf8')).toContain(secret(1));
    await storage.close();
    storage = await openEmbeddedStorage({ dataDir });
    expect(await storage.resources.readCurrent(P, 'AuditEvent', 'old')).toBeUndefined();
    expect(await versionsOf(storage)).toBe(1);
    await storage.compact();
    await storage.resources.write([writeOf(version(P, 'AuditEvent', 'after', 1))]);
    await storage.close();
    const files = fs.readdirSync(dataDir).map((name) => path.join(dataDir, name)).filter((file) => fs.statSync(file).isFile());
    const bytes = files.map((file) => fs.readFileSync(file, 'latin1')).join('\n');
    expect(bytes).toContain('kept-record');
    for (let v = 1; v <= 3; v++) expect(bytes).not.toContain(secret(v));
    storage = await openEmbeddedStorage({ dataDir });
    try {
      expect(await storage.resources.history({ project: P, type: 'AuditEvent', id: 'old' })).toEqual([]);
      expect((await storage.resources.readCurrent(P, 'AuditEvent', 'kept'))?.resource?.outcomeDesc).toBe('kept-record');
      expect(await versionsOf(storage)).toBe(2);
    } finally {
      await storage.close();
    }
  });
});
