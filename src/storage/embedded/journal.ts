/**
 * The embedded store's durability: an append-only NDJSON journal in DATA_DIR.
 *
 * - Every change is one line (one line per write batch, so a batch is all-or-nothing on replay).
 * - Group commit: lines appended while a write+fdatasync is in flight are written and synced together by the
 *   next round, one write and one fdatasync for all of them. A change is applied to memory (its `onDurable`
 *   callback, run in journal order) and its promise resolved only after the fdatasync that covers its line, so
 *   readers never see a change the disk does not hold.
 * - If a round's write or fdatasync fails (ENOSPC, EIO), the file is cut back to its length before the round
 *   and synced, the round's changes are refused with {@link JournalWriteError} (a StorageUnavailableError:
 *   nothing of them was applied), and the journal keeps taking writes: the next one succeeds once the fault is
 *   gone. Only when the cut itself fails does the journal stop accepting writes (fail-stop) until a restart.
 * - At start the file is replayed (journal-replay.ts); nothing is rewritten, so a full disk does not stop it.
 * - Former versions of resources are not kept in memory: the store reads them back by their byte position, which
 *   {@link Journal.appendSerialized} reports for each line once durable, replay for each replayed version, and a
 *   compaction for each version it copies ({@link PlacedLine}); {@link Journal.read} reads them.
 * - Compaction (the current state written to a temp file, fsync'd, renamed over the journal, directory fsync'd)
 *   runs on demand and automatically once the file has doubled since it was last compacted (and grown by at least
 *   `compactionMinBytes`). It first checks that the file system has room for the new file (at most the current
 *   file's size) and otherwise skips with a warning; a compaction that fails leaves the journal as it was.
 * - The data directory is private (0700, files 0600; tightened at open, see private-files.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageUnavailableError } from '../ports';
import type { StorageLogger } from '../logger';
import { makeDirectoryPrivate } from '../private-files';
import { acquireDataDirLock } from './data-dir-lock';
import { NODE_JOURNAL_FILE_SYSTEM, fsyncDirectory } from './journal-file';
import { PRIVATE_FILE_MODE } from '../private-files';
import type { JournalFileHandle, JournalFileSystem } from './journal-file';
import { FORMAT, JOURNAL_FILE, replayFile, setAsideDamagedTail } from './journal-replay';
import type { JournalEntry } from './journal-replay';
import type { VersionSpan } from './resources-line';
import {
  SnapshotAbandonedError,
  journalFingerprint,
  readSnapshot,
  removeSnapshotLeftovers,
  writeSnapshot,
  SNAPSHOT_FORMAT,
} from './snapshot';
import type { LoadedSnapshot, SnapshotHeader } from './snapshot';

export { JOURNAL_FILE, REJECTED_FILE, JournalCorruptionError, parseEntry } from './journal-replay';
export type { JournalEntry } from './journal-replay';

const COMPACT_SUFFIX = '.compact-tmp';
const SNAPSHOT_FILE_NAME = 'snapshot.ndjson';
/** Room left on the file system beyond the new file's size before a compaction starts. */
const COMPACTION_HEADROOM_BYTES = 1 << 20;
/** Default growth (bytes appended since the last compaction) below which no automatic compaction runs. */
const DEFAULT_COMPACTION_MIN_BYTES = 64 << 20;
/** Default journal growth after which a new snapshot is written in the background. */
const DEFAULT_SNAPSHOT_MIN_BYTES = 16 << 20;
/** Room left on the file system beyond a snapshot's expected size before one is written. */
const SNAPSHOT_HEADROOM_BYTES = 16 << 20;

/** A snapshot line serialized by its producer, told where it was written. */
export interface PlacedLine {
  /** The line, without its newline. */
  line: string;
  /** Called with the byte offset of the line in the new file, before that file replaces the journal. */
  written(offset: number): void;
}

/** Reads bytes of the journal file: `length` bytes at `offset`. */
export type JournalReader = (offset: number, length: number) => Buffer;

/** How the journal talks to the in-memory state it persists. */
export interface JournalHandlers {
  /**
   * Applies one replayed entry (never a header). For a resources entry, `spans` gives the byte position of each
   * version in the file.
   */
  replay(entry: Exclude<JournalEntry, { t: 'header' }>, spans?: VersionSpan[]): void;
  /** The whole current state as entries, written by compaction; `read` reads the file being replaced. */
  snapshot(read: JournalReader): Iterable<JournalEntry | PlacedLine>;
  /**
   * The snapshot replaced the journal: the positions reported by `written` are now the valid ones, and positions
   * at or after `from` (appended while the snapshot was copied) move by `delta`.
   */
  compacted?(shift: { from: number; delta: number }): void;
  /** A compaction failed: forget the positions its `written` callbacks reported. */
  compactionAbandoned?(): void;
  /**
   * The state at this instant, for a start-up snapshot: called synchronously at a consistent point (every durable
   * line applied, nothing else); the lines may be produced later, while writes continue.
   */
  captureState?(): { sections: Record<string, number>; lines: Iterable<string> };
  /**
   * Reads a snapshot's body. Throws when it cannot be used (then nothing was applied and the journal is replayed
   * in full); otherwise returns the function that applies it.
   */
  restoreState?(snapshot: LoadedSnapshot): () => void;
}

/** A journal write or fdatasync failed: the change was not stored and nothing of it is visible. */
export class JournalWriteError extends StorageUnavailableError {
  constructor(
    file: string,
    cause: unknown,
    readonly stopped = false,
  ) {
    super(
      stopped
        ? `writing the journal ${file} failed and it could not be restored to its last durable state; ` +
            'the store refuses writes until restarted'
        : `writing the journal ${file} failed (${errorCode(cause)}); the change was not stored`,
      { cause },
    );
  }
}

/** The journal was closed. */
export class JournalClosedError extends StorageUnavailableError {
  constructor(file: string) {
    super(`journal ${file} is closed`);
  }
}

/** A compaction was asked for but the file system lacks room for the new file. */
export class CompactionSkippedError extends Error {
  constructor(
    readonly freeBytes: number,
    readonly neededBytes: number,
  ) {
    super(`not enough free space to compact the journal: ${neededBytes} bytes needed, ${freeBytes} available`);
    this.name = 'CompactionSkippedError';
  }
}

function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

/** Options for {@link Journal.open}. */
export interface JournalOptions {
  dataDir: string;
  logger: StorageLogger;
  handlers: JournalHandlers;
  /** The file system used for appends and the free-space check (tests inject faults here). */
  fileSystem?: JournalFileSystem;
  /** Automatic compaction waits until at least this many bytes were appended since the last one. */
  compactionMinBytes?: number;
  /** A snapshot is written in the background once the journal grew by this many bytes since the last one. */
  snapshotMinBytes?: number;
}

interface Waiter {
  /** Receives the byte offset of the line in the file. */
  onDurable?: (offset: number) => void;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** An open, append-only journal with group commit. */
export class Journal {
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private failure: JournalWriteError | undefined;
  private closing: Promise<void> | undefined;
  private compactScheduled = false;
  /** File length covered by successful rounds. */
  private size: number;
  /** File length at which an automatic compaction is next attempted. */
  private compactAt = 0;
  /** Number of write+fdatasync rounds and of lines they carried (to observe group commit); snapshots written. */
  readonly stats = { flushes: 0, lines: 0, failedRounds: 0, snapshots: 0 };
  /** Lines in the file (line numbers continue from it). */
  private lineCount = 0;
  /** Journal length covered by the last snapshot written or loaded (or -1: none). */
  private snapshotBytes = -1;
  /** Size of the last snapshot written or loaded. */
  private snapshotFileBytes = 0;
  private snapshotting: Promise<boolean> | undefined;
  private snapshotScheduled = false;
  /** Set by a compaction: the next chance to write a snapshot is taken whatever the growth. */
  private snapshotSoon = false;
  private compacting: Promise<number> | undefined;
  /** Incremented by every compaction: a snapshot captured before one no longer matches the file. */
  private generation = 0;

  private constructor(
    readonly file: string,
    private readonly dataDir: string,
    private handle: JournalFileHandle,
    /** A second descriptor, for reading versions back by position (see {@link Journal.read}). */
    private readFd: number,
    size: number,
    private readonly releaseLock: () => void,
    private readonly handlers: JournalHandlers,
    private readonly logger: StorageLogger,
    private readonly fileSystem: JournalFileSystem,
    private readonly compactionMinBytes: number,
    private readonly snapshotMinBytes: number,
    start: { lineCount: number; snapshotBytes: number; snapshotFileBytes: number },
  ) {
    this.size = size;
    this.lineCount = start.lineCount;
    this.snapshotBytes = start.snapshotBytes;
    this.snapshotFileBytes = start.snapshotFileBytes;
    this.planCompaction();
  }

  /**
   * Locks the data directory, replays the journal into the handlers (setting a damaged last line aside) and opens
   * it for appends. Nothing is rewritten.
   *
   * @param options - data directory, logger and state handlers
   * @returns the open journal
   * @throws JournalCorruptionError when a line other than the last cannot be read
   */
  static async open(options: JournalOptions): Promise<Journal> {
    const { dataDir, logger, handlers } = options;
    const fileSystem = options.fileSystem ?? NODE_JOURNAL_FILE_SYSTEM;
    makeDirectoryPrivate(dataDir, logger);
    const release = acquireDataDirLock(dataDir);
    try {
      const file = path.join(dataDir, JOURNAL_FILE);
      fs.rmSync(file + COMPACT_SUFFIX, { force: true });
      removeSnapshotLeftovers(dataDir);
      const started = Date.now();
      const existed = fs.existsSync(file);
      const bytes = existed ? fs.statSync(file).size : 0;
      const from = existed ? restoreSnapshot(dataDir, file, bytes, handlers, logger) : undefined;
      const replayed = existed
        ? replayFile(file, (entry, spans) => handlers.replay(entry, spans), from && { offset: from.journalBytes, lineNumber: from.journalLines })
        : { lines: 0, validBytes: 0, lineCount: 0 };
      setAsideDamagedTail(dataDir, file, replayed, logger);
      const handle = await fileSystem.openForAppend(file);
      if (!existed) fsyncDirectory(dataDir);
      logger.info(
        { file, entries: replayed.lines, bytes, fromSnapshot: from ? from.journalBytes : false, ms: Date.now() - started },
        from ? 'journal: loaded the snapshot and replayed the journal after it' : 'journal: replayed',
      );
      const journal = new Journal(
        file,
        dataDir,
        handle,
        fs.openSync(file, 'r'),
        replayed.validBytes,
        release,
        handlers,
        logger,
        fileSystem,
        options.compactionMinBytes ?? DEFAULT_COMPACTION_MIN_BYTES,
        options.snapshotMinBytes ?? DEFAULT_SNAPSHOT_MIN_BYTES,
        { lineCount: replayed.lineCount, snapshotBytes: from?.journalBytes ?? -1, snapshotFileBytes: from?.bytes ?? 0 },
      );
      // A long tail was replayed (a crash, or no snapshot yet): make the next start-up cheap.
      journal.maybeSnapshot();
      return journal;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** False once the journal stopped taking writes (a failed write it could not undo) or was closed. */
  get writable(): boolean {
    return this.failure === undefined && this.closing === undefined;
  }

  /**
   * Throws when the journal cannot take writes, so a store refuses a change before doing anything with it.
   *
   * @throws JournalWriteError after a failure that stopped the journal, JournalClosedError after close
   */
  assertWritable(): void {
    if (this.failure) throw this.failure;
    if (this.closing) throw new JournalClosedError(this.file);
  }

  /**
   * Appends an entry; resolves once it is on disk (fdatasync'd).
   *
   * @param entry - the change
   * @param onDurable - applies the change to memory; run after the fdatasync, before the promise resolves
   */
  append(entry: JournalEntry, onDurable?: (offset: number) => void): Promise<void> {
    return this.appendSerialized(JSON.stringify(entry), onDurable);
  }

  /**
   * Appends an already serialized entry (one line of JSON, no newline); resolves once it is fdatasync'd.
   *
   * @param line - `JSON.stringify` of a {@link JournalEntry}
   * @param onDurable - applies the change to memory; run after the fdatasync, in journal order, with the byte
   *   offset of the line in the file (valid until a compaction reports new positions)
   * @returns resolves after the fdatasync; rejects with a StorageUnavailableError when the line was not stored
   */
  appendSerialized(line: string, onDurable?: (offset: number) => void): Promise<void> {
    try {
      this.assertWritable();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push(`${line}\n`);
      this.waiters.push({ onDurable, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /**
   * Reads bytes of the journal synchronously (a page-cache hit for recent data): a version at the position that
   * {@link appendSerialized}, replay or a compaction reported.
   *
   * @param offset - byte offset in the file
   * @param length - number of bytes
   * @throws Error when the file is shorter than asked (positions and file disagree)
   */
  read(offset: number, length: number): Buffer {
    return readExactly(this.readFd, offset, length);
  }

  /**
   * Compacts the open journal: afterwards the file holds the current state only, so values that were replaced (a
   * secret re-encrypted, for instance) are no longer on disk. Appends made meanwhile wait for it.
   *
   * @returns the size of the compacted file in bytes
   * @throws CompactionSkippedError when the file system lacks room for the new file (nothing changed);
   *   the write error when writing the new file fails (nothing changed either)
   */
  async compact(): Promise<number> {
    while (this.compacting) await this.compacting.catch(() => undefined);
    const run = this.compactInBackground();
    this.compacting = run;
    const done = (): void => {
      if (this.compacting === run) this.compacting = undefined;
    };
    run.then(done, done);
    return run;
  }

  /**
   * Copies the state at one instant into the new file while writes go on appending to the journal, then, with
   * appends held for the moment it takes, copies what they appended meanwhile (byte for byte: the tail is valid
   * journal), syncs the new file and puts it in place. The positions of the versions copied are those the copy
   * recorded; those of versions appended meanwhile move by the difference between the tail's place in the two
   * files.
   */
  private async compactInBackground(): Promise<number> {
    this.assertWritable();
    const needed = this.size + COMPACTION_HEADROOM_BYTES;
    const free = await this.fileSystem.freeBytes(this.dataDir);
    if (free < needed) throw new CompactionSkippedError(free, needed);
    this.assertWritable();
    const tmp = this.file + COMPACT_SUFFIX;
    // Synchronous from here to the capture: every line before `covered` is applied, none after.
    const covered = this.size;
    const entries = this.handlers.snapshot((offset, length) => this.read(offset, length));
    const out = await fs.promises.open(tmp, 'w', PRIVATE_FILE_MODE);
    let release: (() => void) | undefined;
    let outClosed = false;
    try {
      let written = 0;
      let lines = 0;
      const write = async (data: Buffer): Promise<void> => {
        let done = 0;
        while (done < data.length) done += (await out.write(data, done, data.length - done)).bytesWritten;
        written += data.length;
      };
      let chunk: string[] = [];
      let chunkBytes = 0;
      const add = (text: string): void => {
        chunk.push(text);
        chunkBytes += Buffer.byteLength(text);
        lines++;
      };
      const flush = async (): Promise<void> => {
        if (chunk.length === 0) return;
        const data = Buffer.from(chunk.join(''), 'utf8');
        chunk = [];
        chunkBytes = 0;
        await write(data);
        if (this.closing) throw new JournalClosedError(this.file);
      };
      const header: JournalEntry = { t: 'header', format: FORMAT, compactedAt: new Date().toISOString() };
      add(`${JSON.stringify(header)}\n`);
      for (const entry of entries) {
        if ('written' in entry) {
          entry.written(written + chunkBytes);
          add(`${entry.line}\n`);
        } else {
          add(`${JSON.stringify(entry)}\n`);
        }
        if (chunkBytes >= 1 << 20) await flush();
      }
      await flush();
      // Hold appends: wait for the round in flight, then copy what was appended since the capture.
      while (this.flushing) await this.flushing;
      this.assertWritable();
      this.flushing = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tailStart = written;
      for (let offset = covered; offset < this.size; ) {
        const length = Math.min(1 << 20, this.size - offset);
        const data = this.read(offset, length);
        for (const byte of data) if (byte === 0x0a) lines++;
        await write(data);
        offset += length;
      }
      await out.sync();
      await out.close();
      outClosed = true;
      // Synchronous from the rename to the new read descriptor: positions and file agree at every turn.
      fs.renameSync(tmp, this.file);
      fsyncDirectory(this.dataDir);
      this.handlers.compacted?.({ from: covered, delta: tailStart - covered });
      const previousFd = this.readFd;
      this.readFd = fs.openSync(this.file, 'r');
      fs.closeSync(previousFd);
      this.generation++;
      this.snapshotBytes = -1;
      // The snapshot no longer matches the file, and it holds values the compaction may have been asked to erase
      // (records re-encrypted): delete it now; a new one is written in the background.
      this.snapshotFileBytes = 0;
      fs.rmSync(path.join(this.dataDir, SNAPSHOT_FILE_NAME), { force: true });
      fsyncDirectory(this.dataDir);
      this.snapshotSoon = true;
      const previous = this.handle;
      try {
        this.handle = await this.fileSystem.openForAppend(this.file);
      } catch (err) {
        this.failure = new JournalWriteError(this.file, err, true);
        throw this.failure;
      }
      await previous.close().catch(() => undefined);
      this.size = written;
      this.lineCount = lines;
      this.planCompaction();
      setImmediate(() => this.maybeSnapshot());
      return written;
    } catch (err) {
      if (!outClosed) await out.close().catch(() => undefined);
      if (fs.existsSync(tmp)) fs.rmSync(tmp, { force: true });
      this.handlers.compactionAbandoned?.();
      throw err;
    } finally {
      if (release) {
        this.flushing = undefined;
        release();
        if (this.failure) {
          for (const w of this.waiters) w.reject(this.failure);
          this.pending = [];
          this.waiters = [];
        } else if (this.pending.length > 0) {
          this.flushing = this.flushLoop();
        }
      }
    }
  }

  /** Waits for pending appends, then closes the file and releases the data directory. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.compacting) await this.compacting.catch(() => undefined);
      while (this.flushing) await this.flushing;
      while (this.snapshotting) await this.snapshotting.catch(() => false);
      // The next start-up loads this snapshot instead of replaying what was appended since the last one.
      if (this.failure === undefined && this.size !== this.snapshotBytes && this.handlers.captureState) {
        await this.takeSnapshot().catch(() => false);
      }
      await this.handle.close();
      fs.closeSync(this.readFd);
      this.releaseLock();
    })();
    return this.closing;
  }

  private planCompaction(): void {
    this.compactAt = this.size + Math.max(this.size, this.compactionMinBytes);
  }

  private maybeCompact(): void {
    if (this.compactScheduled || this.size < this.compactAt) return;
    this.compactScheduled = true;
    setImmediate(() => {
      if (!this.writable) return;
      this.compact()
        .then(
          (bytes) => this.logger.info({ file: this.file, bytes }, 'journal: compacted'),
          (err: unknown) => {
            this.planCompaction();
            this.logger.warn(
              { file: this.file, bytes: this.size, err: err instanceof Error ? err.message : String(err) },
              'journal: compaction skipped',
            );
          },
        )
        .finally(() => {
          this.compactScheduled = false;
        });
    });
  }

  private async flushLoop(): Promise<void> {
    // Let appends made in the same tick join the first round.
    await Promise.resolve();
    while (this.pending.length > 0 && !this.failure) {
      const lines = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      const data = Buffer.from(lines.join(''), 'utf8');
      try {
        let written = 0;
        while (written < data.length) {
          written += (await this.handle.write(data, written, data.length - written)).bytesWritten;
        }
        await this.handle.datasync();
      } catch (err) {
        await this.refuseRound(waiters, err);
        continue;
      }
      const start = this.size;
      this.size += data.length;
      this.lineCount += lines.length;
      this.stats.flushes++;
      this.stats.lines += lines.length;
      this.settle(waiters, lines, start);
      // Under a steady stream of writes the loop never ends: look at the growth after every round.
      this.maybeSnapshot();
    }
    if (this.failure) {
      for (const w of this.waiters) w.reject(this.failure);
      this.pending = [];
      this.waiters = [];
    }
    this.flushing = undefined;
    this.maybeCompact();
    this.maybeSnapshot();
  }

  /**
   * Writes a snapshot of the state as it is now (covering the journal up to its current length), in the
   * background: writes continue meanwhile. Abandoned if the journal is compacted before it is in place.
   *
   * @returns true when a snapshot was written; false when it was abandoned or skipped for lack of space
   * @throws the write error (the previous snapshot stays)
   */
  takeSnapshot(): Promise<boolean> {
    if (this.snapshotting) return this.snapshotting;
    const capture = this.handlers.captureState;
    if (!capture) return Promise.resolve(false);
    // Synchronous from here to the capture: `size` covers exactly the lines applied to the state captured.
    const journalBytes = this.size;
    const journalLines = this.lineCount;
    const generation = this.generation;
    const fingerprint = journalFingerprint((offset, length) => this.read(offset, length), journalBytes);
    const state = capture.call(this.handlers);
    const header: SnapshotHeader = {
      t: 'snapshot',
      format: SNAPSHOT_FORMAT,
      journalBytes,
      journalLines,
      ...fingerprint,
      createdAt: new Date().toISOString(),
      sections: state.sections,
    };
    const started = Date.now();
    const run = (async (): Promise<boolean> => {
      const needed = Math.max(this.snapshotFileBytes * 2, 1 << 20) + SNAPSHOT_HEADROOM_BYTES;
      const free = await this.fileSystem.freeBytes(this.dataDir);
      if (free < needed) {
        this.logger.warn({ dataDir: this.dataDir, needed, free }, 'snapshot: skipped (not enough free space)');
        return false;
      }
      try {
        const bytes = await writeSnapshot(this.dataDir, header, state.lines, () => {
          if (this.generation !== generation) throw new SnapshotAbandonedError('the journal was compacted');
        });
        this.snapshotBytes = journalBytes;
        this.snapshotFileBytes = bytes;
        this.stats.snapshots++;
        this.logger.info({ journalBytes, bytes, ms: Date.now() - started }, 'snapshot: written');
        return true;
      } catch (err) {
        if (err instanceof SnapshotAbandonedError) return false;
        throw err;
      }
    })();
    this.snapshotting = run;
    const done = (): void => {
      if (this.snapshotting === run) this.snapshotting = undefined;
    };
    run.then(done, done);
    return run;
  }

  /**
   * Starts a background snapshot once the journal grew by `snapshotMinBytes` since the last one (or right after a
   * compaction).
   */
  maybeSnapshot(): void {
    if (this.snapshotScheduled || this.snapshotting || !this.handlers.captureState) return;
    const covered = Math.max(this.snapshotBytes, 0);
    if (!this.snapshotSoon && this.size - covered < this.snapshotMinBytes) return;
    this.snapshotSoon = false;
    this.snapshotScheduled = true;
    setImmediate(() => {
      this.snapshotScheduled = false;
      if (!this.writable) return;
      this.takeSnapshot().catch((err: unknown) => {
        // Retry only after the journal grew again.
        this.snapshotBytes = this.size;
        this.logger.warn({ dataDir: this.dataDir, err: err instanceof Error ? err.message : String(err) }, 'snapshot: writing failed; the previous one stays');
      });
    });
  }

  /** Applies a durable round's changes in order (each told its line's offset) and resolves their promises. */
  private settle(waiters: Waiter[], lines: string[], start: number): void {
    let offset = start;
    for (const [i, w] of waiters.entries()) {
      const lineOffset = offset;
      offset += Buffer.byteLength(lines[i] as string);
      try {
        w.onDurable?.(lineOffset);
      } catch (err) {
        // Memory no longer matches the file: refuse further writes; a restart replays the file.
        this.failure ??= new JournalWriteError(this.file, err, true);
        this.logger.warn({ file: this.file, err: String(err) }, 'journal: applying a durable change failed');
      }
      w.resolve();
    }
  }

  /** A round failed: cut the file back to its durable length and refuse the round's changes. */
  private async refuseRound(waiters: Waiter[], cause: unknown): Promise<void> {
    this.stats.failedRounds++;
    let error = new JournalWriteError(this.file, cause);
    try {
      await this.handle.truncate(this.size);
      await this.handle.datasync();
    } catch (rollback) {
      error = new JournalWriteError(this.file, rollback, true);
      this.failure = error;
    }
    (this.logger.error ?? this.logger.warn).call(
      this.logger,
      { file: this.file, changes: waiters.length, err: errorCode(cause), stopped: error.stopped },
      error.stopped
        ? 'journal: a write failed and could not be undone; refusing writes until restart'
        : 'journal: a write failed; its changes were refused and nothing of them is visible',
    );
    for (const w of waiters) w.reject(error);
  }
}

/** Reads exactly `length` bytes at `offset`. */
function readExactly(fd: number, offset: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buffer, done, length - done, offset + done);
    if (n === 0) throw new Error(`journal: short read at byte ${offset + done} (wanted ${length} bytes at ${offset})`);
    done += n;
  }
  return buffer;
}

/**
 * Loads the snapshot if it is usable; returns where the journal replay continues, or undefined for a full replay.
 */
function restoreSnapshot(
  dataDir: string,
  file: string,
  journalSize: number,
  handlers: JournalHandlers,
  logger: StorageLogger,
): { journalBytes: number; journalLines: number; bytes: number } | undefined {
  if (!handlers.restoreState) return undefined;
  const fd = fs.openSync(file, 'r');
  try {
    const started = Date.now();
    const snapshot = readSnapshot(dataDir, journalSize, (offset, length) => readExactly(fd, offset, length), logger);
    if (!snapshot) return undefined;
    let apply: () => void;
    try {
      apply = handlers.restoreState(snapshot);
    } catch (err) {
      logger.warn(
        { file: path.join(dataDir, SNAPSHOT_FILE_NAME), reason: err instanceof Error ? err.message : String(err) },
        'snapshot: ignored; replaying the whole journal',
      );
      return undefined;
    }
    apply();
    logger.info(
      { journalBytes: snapshot.header.journalBytes, bytes: snapshot.bytes, ms: Date.now() - started },
      'snapshot: loaded',
    );
    return { journalBytes: snapshot.header.journalBytes, journalLines: snapshot.header.journalLines, bytes: snapshot.bytes };
  } finally {
    fs.closeSync(fd);
  }
}
