/**
 * The embedded storage adapter (the default when MONGODB_URI is unset): current documents in memory, queried with
 * mingo through in-memory indexes, persisted to an fdatasync'd, group-committed journal in `dataDir`; former
 * versions are read back from the journal by position. A change becomes visible only once it is durable.
 */
import type { Storage } from '../ports';
import { SILENT_LOGGER } from '../logger';
import type { StorageLogger } from '../logger';
import { ResourceCollection } from './collection';
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
    },
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
