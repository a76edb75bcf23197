/**
 * The embedded store's durability: an append-only NDJSON journal in DATA_DIR.
 *
 * - Every change is one line (one line per write batch, so a batch is all-or-nothing on replay).
 * - Group commit: lines appended while a write+fdatasync is in flight are written and synced together by the
 *   next one; a caller's promise resolves only after the fsync that covers its line.
 * - At start the file is replayed. A torn or unparseable LAST line (a write cut short by a crash, never
 *   acknowledged) is ignored; a bad line anywhere else is corruption and opening fails.
 * - Then it is compacted: the current state is written to a temp file, fsync'd, renamed over the journal and
 *   the directory fsync'd, which also drops the torn tail.
 * - The data directory is private (0700, files 0600; tightened at open, see private-files.ts).
 * - If a write or fsync fails, the journal stops accepting writes (fail-stop): memory may hold changes the
 *   disk does not, and only a restart (replay) restores a state known to be durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResourceDocument, StoredRecord } from '../ports';
import type { StorageLogger } from '../logger';
import { makeDirectoryPrivate, PRIVATE_FILE_MODE } from '../private-files';
import { acquireDataDirLock } from './data-dir-lock';
import { fsyncDirectory, readLines, writeFileDurably } from './journal-file';
import type { JournalLine } from './journal-file';
import { RESOURCES_PREFIX, splitResourcesLine } from './resources-line';
import type { VersionSpan } from './resources-line';

/** File name of the journal inside the data directory. */
export const JOURNAL_FILE = 'journal.ndjson';
const COMPACT_SUFFIX = '.compact-tmp';
const FORMAT = 1;

/** One journal line. */
export type JournalEntry =
  | { t: 'header'; format: number; compactedAt: string }
  | { t: 'resources'; docs: Array<Omit<ResourceDocument, '_id'>> }
  | { t: 'record-put'; record: StoredRecord }
  | { t: 'record-delete'; kind: string; keys: string[] };

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
  /** The snapshot replaced the journal: positions reported by `written` are now the valid ones. */
  compacted?(): void;
}

/** A journal line other than the last one cannot be read: the data directory is damaged. */
export class JournalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly lineNumber: number,
    readonly offset: number,
    cause: unknown,
  ) {
    super(
      `journal ${file} is corrupt at line ${lineNumber} (byte ${offset}): ` +
        `${cause instanceof Error ? cause.message : String(cause)}; refusing to start. ` +
        'Restore the data directory from a backup, or remove the damaged line knowing its change is lost.',
      { cause },
    );
    this.name = 'JournalCorruptionError';
  }
}

/** A journal write or fsync failed; the store no longer accepts writes. */
export class JournalWriteError extends Error {
  constructor(file: string, cause: unknown) {
    super(`writing the journal ${file} failed; the store is read-only until restarted`, { cause });
    this.name = 'JournalWriteError';
  }
}

/** The journal was closed. */
export class JournalClosedError extends Error {
  constructor(file: string) {
    super(`journal ${file} is closed`);
    this.name = 'JournalClosedError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isVersion(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.project === 'string' &&
    typeof value.type === 'string' &&
    typeof value.id === 'string' &&
    typeof value.versionId === 'number' &&
    typeof value.lastUpdated === 'string' &&
    typeof value.deleted === 'boolean'
  );
}

/**
 * Parses and checks one journal line.
 *
 * @param text - the line without its newline
 * @returns the entry
 * @throws Error when the line is not a well-formed entry
 */
export function parseEntry(text: string): JournalEntry {
  const entry: unknown = JSON.parse(text);
  if (!isRecord(entry)) throw new Error('not a JSON object');
  switch (entry.t) {
    case 'header':
      if (typeof entry.format !== 'number' || entry.format > FORMAT) {
        throw new Error(`unsupported journal format ${String(entry.format)}`);
      }
      return entry as JournalEntry;
    case 'resources':
      if (!Array.isArray(entry.docs) || !entry.docs.every(isVersion)) throw new Error('malformed resources entry');
      return entry as JournalEntry;
    case 'record-put': {
      const r = entry.record;
      if (!isRecord(r) || typeof r.kind !== 'string' || typeof r.key !== 'string' || !isRecord(r.value)) {
        throw new Error('malformed record-put entry');
      }
      return entry as JournalEntry;
    }
    case 'record-delete':
      if (typeof entry.kind !== 'string' || !Array.isArray(entry.keys)) throw new Error('malformed record-delete entry');
      return entry as JournalEntry;
    default:
      throw new Error(`unknown entry type ${JSON.stringify(entry.t)}`);
  }
}

/**
 * Parses a resources line version by version, so each version's byte position in the file is known.
 *
 * @param line - a line starting with {@link RESOURCES_PREFIX}
 * @returns the entry and the versions' absolute spans
 * @throws Error when the line is not a well-formed resources entry
 */
function parseResourcesLine(line: JournalLine): { entry: Extract<JournalEntry, { t: 'resources' }>; spans: VersionSpan[] } {
  const { texts, spans } = splitResourcesLine(line.text);
  const docs = texts.map((text) => JSON.parse(text) as unknown);
  if (!docs.every(isVersion)) throw new Error('malformed resources entry');
  for (const span of spans) span.offset += line.offset;
  return { entry: { t: 'resources', docs: docs as Array<Omit<ResourceDocument, '_id'>> }, spans };
}

/** Replays one line (resources lines with their versions' positions). */
function replayLine(line: JournalLine, handlers: JournalHandlers): void {
  if (line.text.startsWith(RESOURCES_PREFIX)) {
    const { entry, spans } = parseResourcesLine(line);
    handlers.replay(entry, spans);
    return;
  }
  const entry = parseEntry(line.text);
  if (entry.t !== 'header') handlers.replay(entry);
}

/** Replays a journal file; returns the ignored torn last line, if any. */
function replayFile(file: string, handlers: JournalHandlers): { lines: number; torn?: JournalLine } {
  let lines = 0;
  let previous: JournalLine | undefined;
  const apply = (line: JournalLine): void => {
    if (line.text.trim() === '') return;
    replayLine(line, handlers);
    lines++;
  };
  for (const line of readLines(file)) {
    if (previous) {
      try {
        apply(previous);
      } catch (err) {
        throw new JournalCorruptionError(file, previous.lineNumber, previous.offset, err);
      }
    }
    previous = line;
  }
  if (!previous) return { lines };
  if (!previous.terminated) return { lines, torn: previous };
  const last = previous;
  let replayLast: () => void;
  if (last.text.startsWith(RESOURCES_PREFIX)) {
    let parsed: ReturnType<typeof parseResourcesLine>;
    try {
      parsed = parseResourcesLine(last);
    } catch {
      return { lines, torn: last };
    }
    replayLast = () => handlers.replay(parsed.entry, parsed.spans);
  } else {
    let entry: JournalEntry;
    try {
      entry = parseEntry(last.text);
    } catch {
      return last.text.trim() === '' ? { lines } : { lines, torn: last };
    }
    replayLast = () => {
      if (entry.t !== 'header') handlers.replay(entry);
    };
  }
  lines++;
  try {
    replayLast();
  } catch (err) {
    throw new JournalCorruptionError(file, last.lineNumber, last.offset, err);
  }
  return { lines };
}

/** Options for {@link Journal.open}. */
export interface JournalOptions {
  dataDir: string;
  logger: StorageLogger;
  handlers: JournalHandlers;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** An open, append-only journal with group commit. */
export class Journal {
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  /** Number of write+fsync rounds and of lines they carried (to observe group commit). */
  readonly stats = { flushes: 0, lines: 0 };

  /** Size of the file once every pending line is written: where the next appended line will start. */
  private end: number;

  private constructor(
    readonly file: string,
    private readonly dataDir: string,
    private handle: fs.promises.FileHandle,
    /** A second descriptor, for reading versions back by offset (see {@link Journal.read}). */
    private readFd: number,
    private readonly releaseLock: () => void,
    private readonly handlers: JournalHandlers,
  ) {
    this.end = fs.fstatSync(readFd).size;
  }

  /**
   * Locks the data directory, replays the journal into the handlers, compacts it and opens it for appends.
   *
   * @param options - data directory, logger and state handlers
   * @returns the open journal
   * @throws JournalCorruptionError when a line other than the last cannot be read
   */
  static async open(options: JournalOptions): Promise<Journal> {
    const { dataDir, logger, handlers } = options;
    makeDirectoryPrivate(dataDir, logger);
    const release = acquireDataDirLock(dataDir);
    try {
      const file = path.join(dataDir, JOURNAL_FILE);
      fs.rmSync(file + COMPACT_SUFFIX, { force: true });
      const started = Date.now();
      const bytesBefore = fs.existsSync(file) ? fs.statSync(file).size : 0;
      const previousFd = fs.existsSync(file) ? fs.openSync(file, 'r') : undefined;
      let bytesAfter: number;
      try {
        const replayed = previousFd === undefined ? { lines: 0 } : replayFile(file, handlers);
        if (replayed.torn) {
          const { lineNumber, offset } = replayed.torn;
          logger.warn({ file, lineNumber, offset }, 'journal: ignored a torn last line (an unacknowledged write)');
        }
        const read: JournalReader = (offset, length) => {
          if (previousFd === undefined) throw new Error(`journal ${file}: nothing to read before the first write`);
          return readExactly(previousFd, offset, length);
        };
        bytesAfter = compact(dataDir, file, handlers.snapshot(read));
        handlers.compacted?.();
        logger.info(
          { file, entries: replayed.lines, bytesBefore, bytesAfter, ms: Date.now() - started },
          'journal: replayed and compacted',
        );
      } finally {
        if (previousFd !== undefined) fs.closeSync(previousFd);
      }
      const handle = await fs.promises.open(file, 'a', PRIVATE_FILE_MODE);
      return new Journal(file, dataDir, handle, fs.openSync(file, 'r'), release, handlers);
    } catch (err) {
      release();
      throw err;
    }
  }

  /** False once a write failed or the journal was closed. */
  get writable(): boolean {
    return this.failure === undefined && this.closing === undefined;
  }

  /**
   * Throws when the journal cannot take writes, so a store refuses a change before applying it in memory.
   *
   * @throws JournalWriteError after a failed write, JournalClosedError after close
   */
  assertWritable(): void {
    if (this.failure) throw this.failure;
    if (this.closing) throw new JournalClosedError(this.file);
  }

  /**
   * Appends an entry; resolves once it is on disk (fsync'd).
   *
   * @param entry - the change
   */
  append(entry: JournalEntry): Promise<void> {
    return this.appendSerialized(JSON.stringify(entry));
  }

  /**
   * Appends an already serialized entry (one line of JSON, no newline); resolves once it is fsync'd.
   *
   * @param line - `JSON.stringify` of a {@link JournalEntry}
   */
  appendSerialized(line: string): Promise<void> {
    return this.appendAt(line).durable;
  }

  /**
   * Appends an already serialized entry and tells where in the file it goes.
   *
   * @param line - `JSON.stringify` of a {@link JournalEntry} (no newline)
   * @returns the byte offset the line will have in the file (valid until the next compaction, which reports
   *   new positions through the snapshot), and a promise resolved once the line is fsync'd
   */
  appendAt(line: string): { offset: number; durable: Promise<void> } {
    try {
      this.assertWritable();
    } catch (err) {
      return { offset: -1, durable: Promise.reject(err as Error) };
    }
    const offset = this.end;
    const text = `${line}\n`;
    this.end += Buffer.byteLength(text);
    const durable = new Promise<void>((resolve, reject) => {
      this.pending.push(text);
      this.waiters.push({ resolve, reject });
      this.flushing ??= this.flushLoop();
    });
    return { offset, durable };
  }

  /**
   * Reads bytes of the journal synchronously (a page-cache hit for recent data), e.g. a version by the position
   * {@link appendAt} or a compaction reported. Only bytes of lines already fsync'd may be read.
   *
   * @param offset - byte offset in the file
   * @param length - number of bytes
   * @throws Error when the file is shorter than asked (positions and file disagree)
   */
  read(offset: number, length: number): Buffer {
    return readExactly(this.readFd, offset, length);
  }

  /**
   * Compacts the open journal, as at open: afterwards the file holds the current state only, so values that were
   * replaced (a secret re-encrypted, for instance) are no longer on disk. Appends made meanwhile wait for it.
   *
   * @returns the size of the compacted file in bytes
   * @throws JournalWriteError when writing fails (the journal then refuses writes, as after a failed append)
   */
  async compact(): Promise<number> {
    // Wait until no round is in flight. Every append starts a round, so nothing is pending either: the state in
    // memory is exactly what the file holds.
    while (this.flushing) await this.flushing;
    this.assertWritable();
    const task = (async (): Promise<number> => {
      try {
        // Synchronous up to the reopen: no append can slip in between the snapshot and the rename.
        const bytes = compact(this.dataDir, this.file, this.handlers.snapshot((offset, length) => this.read(offset, length)));
        this.handlers.compacted?.();
        const previousFd = this.readFd;
        this.readFd = fs.openSync(this.file, 'r');
        fs.closeSync(previousFd);
        this.end = bytes;
        const previous = this.handle;
        this.handle = await fs.promises.open(this.file, 'a', PRIVATE_FILE_MODE);
        await previous.close();
        return bytes;
      } catch (err) {
        this.failure = new JournalWriteError(this.file, err);
        throw this.failure;
      }
    })();
    this.flushing = task.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await task;
    } finally {
      this.flushing = undefined;
      if (this.failure) {
        for (const w of this.waiters) w.reject(this.failure);
        this.pending = [];
        this.waiters = [];
      } else if (this.pending.length > 0) {
        this.flushing = this.flushLoop();
      }
    }
  }

  /** Waits for pending appends, then closes the file and releases the data directory. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.flushing) await this.flushing;
      await this.handle.close();
      fs.closeSync(this.readFd);
      this.releaseLock();
    })();
    return this.closing;
  }

  private async flushLoop(): Promise<void> {
    // Let appends made in the same tick join the first round.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const lines = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        const data = Buffer.from(lines.join(''), 'utf8');
        let written = 0;
        while (written < data.length) {
          written += (await this.handle.write(data, written, data.length - written)).bytesWritten;
        }
        await this.handle.datasync();
        this.stats.flushes++;
        this.stats.lines += lines.length;
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.failure = new JournalWriteError(this.file, err);
        for (const w of [...waiters, ...this.waiters]) w.reject(this.failure);
        this.pending = [];
        this.waiters = [];
      }
    }
    this.flushing = undefined;
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

/** Writes the snapshot to a temp file, fsyncs it, renames it over the journal and fsyncs the directory. */
function compact(dataDir: string, file: string, entries: Iterable<JournalEntry | PlacedLine>): number {
  const tmp = file + COMPACT_SUFFIX;
  function* lines(): Iterable<string> {
    const header: JournalEntry = { t: 'header', format: FORMAT, compactedAt: new Date().toISOString() };
    let offset = 0;
    const place = (text: string): string => {
      offset += Buffer.byteLength(text);
      return text;
    };
    yield place(`${JSON.stringify(header)}\n`);
    for (const entry of entries) {
      if ('written' in entry) {
        entry.written(offset);
        yield place(`${entry.line}\n`);
      } else {
        yield place(`${JSON.stringify(entry)}\n`);
      }
    }
  }
  const bytes = writeFileDurably(tmp, lines());
  fs.renameSync(tmp, file);
  fsyncDirectory(dataDir);
  return bytes;
}
