/**
 * The embedded storage adapter (the default when MONGODB_URI is unset): current documents in memory, queried with
 * mingo through in-memory indexes, persisted to an fdatasync'd, group-committed journal in `dataDir`; former
 * versions are read back from the journal by position. A change becomes visible only once it is durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Storage } from '../ports';
import { SILENT_LOGGER } from '../logger';
import type { StorageLogger } from '../logger';
import { ResourceCollection } from './collection';
import type { DocumentHead, ElementDefinition } from './collection';
import { JOURNAL_FILE, parseEntry } from './journal';
import type { LoadedSnapshot } from './snapshot';
import { HistoryIndex } from './history-index';
import { Journal } from './journal';
import type { JournalEntry, PlacedLine } from './journal';
import type { JournalFileSystem } from './journal-file';
import { EmbeddedRecordStore, RecordTable } from './record-store';
import { EmbeddedResourceStore, applyVersions, expungeVersions, loadVersion, snapshotResources } from './resource-store';
import type { StoredVersion, VersionHistory } from './resource-store';
import type { ResourceDocument } from '../ports';
import { currentDocumentId } from '../store-rules';

export { DataDirLockedError } from './data-dir-lock';
export { CompactionSkippedError, JournalClosedError, JournalCorruptionError, JournalWriteError } from './journal';
export type { JournalFileHandle, JournalFileSystem } from './journal-file';

/** Options for {@link openEmbeddedStorage}. */
export interface EmbeddedStorageOptions {
  /** Directory holding the journal; created if missing. One process at a time may open it. */
  dataDir: string;
  logger?: StorageLogger;
  /** How often expired records are dropped from memory, in ms (default 60 000). */
  sweepIntervalMs?: number;
  /**
   * The file system the journal appends through and asks for free space. Defaults to the real one; tests pass
   * a wrapper that fails writes or fdatasyncs (ENOSPC, EIO), reports a full disk, or counts fdatasyncs.
   */
  journalFileSystem?: JournalFileSystem;
  /** Automatic compaction waits until the journal grew by at least this many bytes (default 64 MiB). */
  compactionMinBytes?: number;
  /** How many current documents are kept parsed after a read, for repeated reads (default 1,024). */
  documentCacheSize?: number;
  /** A start-up snapshot is written in the background once the journal grew by this many bytes (default 16 MiB). */
  snapshotMinBytes?: number;
}

/**
 * The state as snapshot sections (snapshot.ts): `definitions` (one line: indexed paths and element index
 * definitions), `documents` (the head of each current document, see {@link ResourceCollection.documentLines}),
 * `versions` (`[documentNumber, versionId, lastUpdated, offset, length]` per history row, in history order),
 * `postings` (the index sets, {@link ResourceCollection.postingLines}) and `records` (record-put entries of the
 * live records).
 */
function captureState(
  collection: ResourceCollection,
  history: HistoryIndex,
  records: RecordTable,
): { sections: Record<string, number>; lines: Iterable<string> } {
  const docs = collection.captureState();
  const versions = history.captureState();
  const live = [...records.snapshot(Date.now())];
  const postings = docs.inverted.length + docs.definitions.reduce((n, d) => n + d.postings.length, 0);
  function* lines(): Iterable<string> {
    yield JSON.stringify({
      paths: docs.paths,
      elements: docs.definitions.map(({ project, type, path, fields, irregular }) => ({ project, type, path, fields, irregular })),
    });
    yield* ResourceCollection.documentLines(docs);
    const numbers = new Map<string, number>();
    docs.entries.forEach((entry, i) => numbers.set(entry.head._id, i));
    for (const row of versions.rows) {
      const n = numbers.get(row.key);
      if (n === undefined) throw new Error(`snapshot: version ${row.key}/${row.versionId} has no current document`);
      yield JSON.stringify([n, row.versionId, row.lastUpdated, versions.offsets[row.slot], versions.lengths[row.slot]]);
    }
    yield* ResourceCollection.postingLines(docs, numbers);
    for (const entry of live) yield JSON.stringify(entry);
  }
  return {
    sections: { definitions: 1, documents: docs.entries.length, versions: versions.rows.length, postings, records: live.length },
    lines: lines(),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function checkHead(value: unknown): DocumentHead {
  if (!Array.isArray(value) || (value.length !== 7 && value.length !== 8)) throw new Error('malformed document line');
  const [project, type, id, versionId, lastUpdated, deleted, method, uniqueKeys] = value as unknown[];
  if (
    !isString(project) ||
    !isString(type) ||
    !isString(id) ||
    !isCount(versionId) ||
    !isString(lastUpdated) ||
    typeof deleted !== 'boolean' ||
    !isString(method) ||
    (value.length === 8 && !isStringArray(uniqueKeys))
  ) {
    throw new Error('malformed document line');
  }
  const head: DocumentHead = {
    _id: currentDocumentId({ project, type, id }),
    project,
    type,
    id,
    versionId,
    lastUpdated,
    deleted,
    method: method as DocumentHead['method'],
  };
  if (value.length === 8) head.uniqueKeys = uniqueKeys as string[];
  return head;
}

/**
 * Reads a snapshot's sections and checks every line; returns the function that applies them (nothing is applied
 * before every line was read).
 */
function restoreState(snapshot: LoadedSnapshot, collection: ResourceCollection, history: HistoryIndex, records: RecordTable): () => void {
  const { sections } = snapshot.header;
  if (Object.keys(sections).join(',') !== 'definitions,documents,versions,postings,records' || sections.definitions !== 1) {
    throw new Error('unexpected sections');
  }
  const lines = snapshot.lines;
  let at = 0;
  const definitions = JSON.parse(lines[at++] as string) as { paths?: unknown; elements?: unknown };
  if (!isStringArray(definitions.paths) || !Array.isArray(definitions.elements)) throw new Error('malformed definitions line');
  const paths = definitions.paths;
  const elementDefinitions: ElementDefinition[] = definitions.elements.map((d: unknown) => {
    const e = d as Record<string, unknown> | null;
    if (
      e === null ||
      typeof e !== 'object' ||
      !isString(e.project) ||
      !isString(e.type) ||
      !isString(e.path) ||
      !isStringArray(e.fields) ||
      !isCount(e.irregular)
    ) {
      throw new Error('malformed element definition');
    }
    return { project: e.project, type: e.type, path: e.path, fields: e.fields, irregular: e.irregular };
  });
  const docs: Array<{ head: DocumentHead; slot: number }> = [];
  for (let i = 0; i < (sections.documents as number); i++) docs.push({ head: checkHead(JSON.parse(lines[at++] as string)), slot: -1 });
  const versions: Array<[number, number, string, number, number]> = [];
  for (let i = 0; i < (sections.versions as number); i++) {
    const v = JSON.parse(lines[at++] as string) as unknown;
    if (
      !Array.isArray(v) ||
      v.length !== 5 ||
      !isCount(v[0]) ||
      v[0] >= docs.length ||
      !isCount(v[1]) ||
      !isString(v[2]) ||
      !isCount(v[3]) ||
      !isCount(v[4]) ||
      v[3] + v[4] > snapshot.header.journalBytes
    ) {
      throw new Error('malformed version line');
    }
    versions.push(v as [number, number, string, number, number]);
  }
  const current = new Uint8Array(docs.length);
  for (const [n, versionId] of versions) if ((docs[n] as (typeof docs)[number]).head.versionId === versionId) current[n] = 1;
  if (current.includes(0)) throw new Error('a document without its version');
  const idsOf = (numbers: unknown): string[] => {
    if (!Array.isArray(numbers) || !numbers.every((n) => isCount(n) && n < docs.length)) throw new Error('malformed postings line');
    return (numbers as number[]).map((n) => (docs[n] as (typeof docs)[number]).head._id);
  };
  const inverted: Array<[string, string[]]> = [];
  const elementPostings: Array<Array<[string, string[]]>> = elementDefinitions.map(() => []);
  for (let i = 0; i < (sections.postings as number); i++) {
    const p = JSON.parse(lines[at++] as string) as unknown;
    if (Array.isArray(p) && p.length === 3 && p[0] === 'i' && isString(p[1])) inverted.push([p[1], idsOf(p[2])]);
    else if (Array.isArray(p) && p.length === 4 && p[0] === 'e' && isCount(p[1]) && p[1] < elementDefinitions.length && isString(p[2])) {
      (elementPostings[p[1]] as Array<[string, string[]]>).push([p[2], idsOf(p[3])]);
    } else throw new Error('malformed postings line');
  }
  const recordEntries: Array<Extract<JournalEntry, { t: 'record-put' }>> = [];
  for (let i = 0; i < (sections.records as number); i++) {
    const entry = parseEntry(lines[at++] as string);
    if (entry.t !== 'record-put') throw new Error('malformed record line');
    recordEntries.push(entry);
  }
  return () => {
    for (const [n, versionId, lastUpdated, offset, length] of versions) {
      const doc = docs[n] as (typeof docs)[number];
      const { project, type, id } = doc.head;
      const slot = history.add({ project, type, id, versionId, lastUpdated }, { offset, length });
      if (versionId === doc.head.versionId) doc.slot = slot;
    }
    collection.restore({ documents: docs, paths, inverted, definitions: elementDefinitions, elementPostings });
    for (const entry of recordEntries) records.apply(entry);
  };
}

/**
 * Opens (replays) the embedded store in a data directory.
 *
 * @param options - data directory and logger
 * @returns the open storage; call `close()` to flush and release the directory
 * @throws JournalCorruptionError when the journal is damaged before its last line;
 *   DataDirLockedError when another live process uses the directory
 * @example
 * ```ts
 * const storage = await openEmbeddedStorage({ dataDir: './data', logger });
 * await storage.resources.readCurrent('proj', 'Patient', '123');
 * ```
 */
export async function openEmbeddedStorage(options: EmbeddedStorageOptions): Promise<Storage> {
  const logger = options.logger ?? SILENT_LOGGER;
  const history: VersionHistory = new HistoryIndex();
  // Current documents are read back from the journal (set once it is open; nothing is loaded during replay).
  let journal: Journal | undefined;
  // While the journal is replayed (after a snapshot, a replaced document is loaded to take it out of the indexes),
  // versions are read from the file directly.
  const journalFile = path.join(options.dataDir, JOURNAL_FILE);
  let replayFd: number | undefined;
  const readBytes = (offset: number, length: number): Buffer => {
    if (journal) return journal.read(offset, length);
    replayFd ??= fs.openSync(journalFile, 'r');
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(replayFd, buffer, done, length - done, offset + done);
      if (n === 0) throw new Error(`journal ${journalFile}: short read at byte ${offset + done}`);
      done += n;
    }
    return buffer;
  };
  const readVersion = (slot: number, id: string): ResourceDocument => {
    const { offset, length } = history.spanOf(slot);
    const version = JSON.parse(readBytes(offset, length).toString('utf8')) as StoredVersion;
    if (currentDocumentId(version) !== id) throw new Error(`journal ${journalFile}: byte ${offset} does not hold ${id}`);
    return { _id: id, ...version };
  };
  const collection = new ResourceCollection({ load: readVersion }, options.documentCacheSize);
  collection.formerVersion = (id, versionId) => {
    const row = history.get(id, versionId);
    return row && journal ? { ...loadVersion(history, journal, row), _id: id } : undefined;
  };
  const records = new RecordTable();
  try {
    journal = await Journal.open({
    dataDir: options.dataDir,
    logger,
    fileSystem: options.journalFileSystem,
    compactionMinBytes: options.compactionMinBytes,
    handlers: {
      replay(entry, spans) {
        if (entry.t === 'resources-expunge') expungeVersions(collection, history, entry);
        else if (entry.t !== 'resources') records.apply(entry);
        else if (spans) applyVersions(collection, history, entry.docs, spans);
        else throw new Error('a resources entry without the positions of its versions');
      },
      snapshot(read): Iterable<JournalEntry | PlacedLine> {
        // Taken now (the compaction copies it while writes go on); written as it is iterated.
        const resources = snapshotResources(history, read);
        const live = [...records.snapshot(Date.now())];
        return (function* () {
          yield* resources;
          yield* live;
        })();
      },
      compacted(shift) {
        history.commitPlacements(shift);
      },
      compactionAbandoned() {
        history.beginPlacements();
      },
      captureState() {
        return captureState(collection, history, records);
      },
      restoreState(snapshot) {
        return restoreState(snapshot, collection, history, records);
      },
    },
    snapshotMinBytes: options.snapshotMinBytes,
  });
  } finally {
    if (replayFd !== undefined) fs.closeSync(replayFd);
  }
  logger.info({ dataDir: options.dataDir, resources: collection.size, versions: history.size }, 'embedded storage open');
  const sweep = setInterval(() => records.sweep(Date.now()), options.sweepIntervalMs ?? 60_000);
  sweep.unref();
  return {
    kind: 'embedded',
    resources: new EmbeddedResourceStore(collection, history, journal),
    records: new EmbeddedRecordStore(records, journal),
    ping: async () => journal.writable,
    compact: async () => {
      const bytes = await journal.compact();
      logger.info({ file: journal.file, bytes }, 'journal: compacted');
    },
    close: async () => {
      clearInterval(sweep);
      await journal.close();
    },
  };
}
