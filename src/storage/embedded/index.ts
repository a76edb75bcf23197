/**
 * The embedded storage adapter (the default when MONGODB_URI is unset): current documents in memory, queried with
 * mingo through in-memory indexes, persisted to an fdatasync'd, group-committed journal in `dataDir`; former
 * versions are read back from the journal by position. A change becomes visible only once it is durable.
 */
import type { Storage } from '../ports';
import { SILENT_LOGGER } from '../logger';
import type { StorageLogger } from '../logger';
import { ResourceCollection } from './collection';
import type { DocumentHead } from './collection';
import { parseEntry } from './journal';
import type { LoadedSnapshot } from './snapshot';
import { HistoryIndex } from './history-index';
import { Journal } from './journal';
import type { JournalEntry, PlacedLine } from './journal';
import type { JournalFileSystem } from './journal-file';
import { EmbeddedRecordStore, RecordTable } from './record-store';
import { EmbeddedResourceStore, applyVersions, loadVersion, snapshotResources } from './resource-store';
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
 * definitions), `documents` (`[head, indexKeys, elementKeys]` per current document), `versions`
 * (`[documentNumber, versionId, lastUpdated, offset, length]` per history row, in history order) and `records`
 * (record-put entries of the live records).
 */
function captureState(
  collection: ResourceCollection,
  history: HistoryIndex,
  records: RecordTable,
): { sections: Record<string, number>; lines: Iterable<string> } {
  const docs = collection.captureState();
  const versions = history.captureState();
  const live = [...records.snapshot(Date.now())];
  function* lines(): Iterable<string> {
    yield JSON.stringify({
      paths: docs.paths,
      elements: docs.definitions.map(({ project, type, path, fields }) => ({ project, type, path, fields })),
    });
    yield* ResourceCollection.snapshotLines(docs);
    const numbers = new Map<string, number>();
    docs.entries.forEach((entry, i) => numbers.set(entry.head._id, i));
    for (const row of versions.rows) {
      const n = numbers.get(row.key);
      if (n === undefined) throw new Error(`snapshot: version ${row.key}/${row.versionId} has no current document`);
      yield JSON.stringify([n, row.versionId, row.lastUpdated, versions.offsets[row.slot], versions.lengths[row.slot]]);
    }
    for (const entry of live) yield JSON.stringify(entry);
  }
  return {
    sections: { definitions: 1, documents: docs.entries.length, versions: versions.rows.length, records: live.length },
    lines: lines(),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function checkHead(value: unknown): DocumentHead {
  const h = value as Record<string, unknown> | null;
  if (
    h === null ||
    typeof h !== 'object' ||
    Array.isArray(h) ||
    !isString(h._id) ||
    !isString(h.project) ||
    !isString(h.type) ||
    !isString(h.id) ||
    !isCount(h.versionId) ||
    !isString(h.lastUpdated) ||
    typeof h.deleted !== 'boolean' ||
    !isString(h.method) ||
    (h.uniqueKeys !== undefined && !isStringArray(h.uniqueKeys))
  ) {
    throw new Error('malformed document line');
  }
  const head = h as unknown as DocumentHead;
  if (currentDocumentId(head) !== head._id) throw new Error(`document line ${head._id} names another resource`);
  return head;
}

/**
 * Reads a snapshot's sections and checks every line; returns the function that applies them (nothing is applied
 * before every line was read).
 */
function restoreState(snapshot: LoadedSnapshot, collection: ResourceCollection, history: HistoryIndex, records: RecordTable): () => void {
  const { sections } = snapshot.header;
  const counts = [sections.definitions, sections.documents, sections.versions, sections.records];
  if (Object.keys(sections).join(',') !== 'definitions,documents,versions,records' || sections.definitions !== 1) {
    throw new Error('unexpected sections');
  }
  const lines = snapshot.lines;
  let at = 0;
  const definitions = JSON.parse(lines[at++] as string) as { paths?: unknown; elements?: unknown };
  if (!isStringArray(definitions.paths) || !Array.isArray(definitions.elements)) throw new Error('malformed definitions line');
  const elementDefinitions = definitions.elements.map((d: unknown) => {
    const e = d as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object' || !isString(e.project) || !isString(e.type) || !isString(e.path) || !isStringArray(e.fields)) {
      throw new Error('malformed element definition');
    }
    return { project: e.project, type: e.type, path: e.path, fields: e.fields };
  });
  const docs: Array<{ head: DocumentHead; keys: string[]; elements: Array<[number, string[] | null]>; slot: number }> = [];
  for (let i = 0; i < (counts[1] as number); i++) {
    const parsed = JSON.parse(lines[at++] as string) as unknown;
    if (!Array.isArray(parsed) || parsed.length !== 3 || !isStringArray(parsed[1]) || !Array.isArray(parsed[2])) throw new Error('malformed document line');
    const elements = parsed[2] as unknown[];
    for (const e of elements) {
      if (!Array.isArray(e) || e.length !== 2 || !isCount(e[0]) || e[0] >= elementDefinitions.length || (e[1] !== null && !isStringArray(e[1]))) {
        throw new Error('malformed element entry');
      }
    }
    docs.push({ head: checkHead(parsed[0]), keys: parsed[1], elements: elements as Array<[number, string[] | null]>, slot: -1 });
  }
  const versions: Array<[number, number, string, number, number]> = [];
  for (let i = 0; i < (counts[2] as number); i++) {
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
  const recordEntries: Array<Extract<JournalEntry, { t: 'record-put' }>> = [];
  for (let i = 0; i < (counts[3] as number); i++) {
    const entry = parseEntry(lines[at++] as string);
    if (entry.t !== 'record-put') throw new Error('malformed record line');
    recordEntries.push(entry);
  }
  return () => {
    const indexes = collection.restoreDefinitions(definitions.paths as string[], elementDefinitions);
    for (const [n, versionId, lastUpdated, offset, length] of versions) {
      const doc = docs[n] as (typeof docs)[number];
      const { project, type, id } = doc.head;
      const slot = history.add({ project, type, id, versionId, lastUpdated }, { offset, length });
      if (versionId === doc.head.versionId) doc.slot = slot;
    }
    for (const doc of docs) collection.restore(doc.head, doc.slot, doc.keys, doc.elements, indexes);
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
  const readVersion = (slot: number, id: string): ResourceDocument => {
    const { offset, length } = history.spanOf(slot);
    if (!journal) throw new Error(`stored document ${id} read before the journal was open`);
    const version = JSON.parse(journal.read(offset, length).toString('utf8')) as StoredVersion;
    if (currentDocumentId(version) !== id) throw new Error(`journal ${journal.file}: byte ${offset} does not hold ${id}`);
    return { _id: id, ...version };
  };
  const collection = new ResourceCollection({ load: readVersion }, options.documentCacheSize);
  collection.formerVersion = (id, versionId) => {
    const row = history.get(id, versionId);
    return row && journal ? { ...loadVersion(history, journal, row), _id: id } : undefined;
  };
  const records = new RecordTable();
  journal = await Journal.open({
    dataDir: options.dataDir,
    logger,
    fileSystem: options.journalFileSystem,
    compactionMinBytes: options.compactionMinBytes,
    handlers: {
      replay(entry, spans) {
        if (entry.t !== 'resources') records.apply(entry);
        else if (spans) applyVersions(collection, history, entry.docs, spans);
        else throw new Error('a resources entry without the positions of its versions');
      },
      *snapshot(read): Iterable<JournalEntry | PlacedLine> {
        yield* snapshotResources(history, read);
        yield* records.snapshot(Date.now());
      },
      compacted() {
        history.commitPlacements();
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
