/**
 * The start-up snapshot of the embedded store, `DATA_DIR/snapshot.ndjson`: what replaying the journal up to a byte
 * offset would rebuild (history rows with their journal positions, current document heads with their index keys,
 * live records), so that start-up loads it and replays only the journal after that offset.
 *
 * File layout (NDJSON, mode 0600):
 * 1. a header `{"t":"snapshot","format":1,"journalBytes":…,"journalLines":…,"journalHead":…,"journalTail":…,
 *    "createdAt":…,"sections":{…}}`: the journal length it covers and SHA-256 digests of the journal's first and
 *    last (up to) 4 KiB before that length, so a journal that was compacted, replaced or cut since is recognized;
 * 2. the body lines (their meaning belongs to the store; `sections` counts them);
 * 3. a trailer `{"t":"end","sha256":…}`: the digest of every byte before it.
 *
 * Written in the background from a consistent point (the state at one instant, with the journal length that
 * state covers) while writes continue, into `snapshot.ndjson.tmp`, fsync'd, renamed over the previous snapshot,
 * then the directory fsync'd: a crash leaves the previous snapshot or the new one, never a mix. A snapshot whose
 * trailer is missing or wrong, whose header does not match the journal, or that cannot be read is ignored with a
 * warning (the journal is replayed in full); it is never trusted in part.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StorageLogger } from '../logger';
import { PRIVATE_FILE_MODE } from '../private-files';
import { fsyncDirectory } from './journal-file';

/** File name of the snapshot inside the data directory. */
export const SNAPSHOT_FILE = 'snapshot.ndjson';
/** Suffix of the snapshot being written. */
export const SNAPSHOT_TMP_SUFFIX = '.tmp';
/** The snapshot format this code writes and reads. */
export const SNAPSHOT_FORMAT = 1;
/** Bytes of the journal digested at its start and before the covered length. */
const FINGERPRINT_WINDOW = 4096;
/** Bytes gathered before each write of the snapshot file (the event loop turns between writes). */
const CHUNK_BYTES = 1 << 20;

/** Where a snapshot stands in the journal. */
export interface SnapshotPoint {
  /** Journal bytes whose changes the snapshot holds (a line boundary). */
  journalBytes: number;
  /** Journal lines before that offset (line numbers of later lines continue from it). */
  journalLines: number;
  /** SHA-256 (hex) of the journal's first min(4 KiB, journalBytes) bytes. */
  journalHead: string;
  /** SHA-256 (hex) of the journal's last min(4 KiB, journalBytes) bytes before journalBytes. */
  journalTail: string;
}

/** The header line of a snapshot. */
export interface SnapshotHeader extends SnapshotPoint {
  t: 'snapshot';
  format: number;
  createdAt: string;
  /** Number of body lines per section, in order. */
  sections: Record<string, number>;
}

/** Reads `length` bytes at `offset` of the journal. */
export type ByteReader = (offset: number, length: number) => Buffer;

/**
 * The digests that tie a snapshot to the journal bytes it covers.
 *
 * @param read - reads the journal
 * @param journalBytes - the covered length
 */
export function journalFingerprint(read: ByteReader, journalBytes: number): { journalHead: string; journalTail: string } {
  const headLength = Math.min(FINGERPRINT_WINDOW, journalBytes);
  const tailLength = Math.min(FINGERPRINT_WINDOW, journalBytes);
  const digest = (buffer: Buffer): string => createHash('sha256').update(buffer).digest('hex');
  return {
    journalHead: digest(headLength > 0 ? read(0, headLength) : Buffer.alloc(0)),
    journalTail: digest(tailLength > 0 ? read(journalBytes - tailLength, tailLength) : Buffer.alloc(0)),
  };
}

/** Thrown inside a snapshot write that was abandoned (the journal was compacted meanwhile, or it was closed). */
export class SnapshotAbandonedError extends Error {
  constructor(reason: string) {
    super(`snapshot abandoned: ${reason}`);
    this.name = 'SnapshotAbandonedError';
  }
}

/**
 * Writes a snapshot durably: temp file, fsync, rename, directory fsync. The body is produced lazily and written a
 * chunk at a time, letting the event loop turn between chunks.
 *
 * @param dataDir - the data directory
 * @param header - the header (its `sections` as counted by the caller)
 * @param body - the body lines, without newlines
 * @param check - called between chunks and before the rename; throws {@link SnapshotAbandonedError} to abandon
 * @returns the size of the snapshot in bytes
 */
export async function writeSnapshot(
  dataDir: string,
  header: SnapshotHeader,
  body: Iterable<string>,
  check: () => void,
): Promise<number> {
  const file = path.join(dataDir, SNAPSHOT_FILE);
  const tmp = file + SNAPSHOT_TMP_SUFFIX;
  const hash = createHash('sha256');
  const handle = await fs.promises.open(tmp, 'w', PRIVATE_FILE_MODE);
  let total = 0;
  let done = false;
  try {
    const write = async (text: string): Promise<void> => {
      const data = Buffer.from(text, 'utf8');
      hash.update(data);
      let written = 0;
      while (written < data.length) written += (await handle.write(data, written, data.length - written)).bytesWritten;
      total += data.length;
    };
    let chunk: string[] = [`${JSON.stringify(header)}\n`];
    let chunkChars = 0;
    for (const line of body) {
      chunk.push(line, '\n');
      chunkChars += line.length + 1;
      if (chunkChars >= CHUNK_BYTES) {
        await write(chunk.join(''));
        chunk = [];
        chunkChars = 0;
        check();
      }
    }
    await write(chunk.join(''));
    const trailer = `${JSON.stringify({ t: 'end', sha256: hash.digest('hex') })}\n`;
    const data = Buffer.from(trailer, 'utf8');
    let written = 0;
    while (written < data.length) written += (await handle.write(data, written, data.length - written)).bytesWritten;
    total += data.length;
    await handle.sync();
    await handle.close();
    done = true;
    check();
    fs.renameSync(tmp, file);
    fsyncDirectory(dataDir);
    return total;
  } catch (err) {
    if (!done) await handle.close().catch(() => undefined);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** A snapshot read back and checked against the journal. */
export interface LoadedSnapshot {
  header: SnapshotHeader;
  /** The body lines, in order. */
  lines: string[];
  /** Size of the file in bytes. */
  bytes: number;
}

function isHeader(value: unknown): value is SnapshotHeader {
  const h = value as Partial<SnapshotHeader> | null;
  return (
    h !== null &&
    typeof h === 'object' &&
    h.t === 'snapshot' &&
    h.format === SNAPSHOT_FORMAT &&
    Number.isSafeInteger(h.journalBytes) &&
    (h.journalBytes as number) >= 0 &&
    Number.isSafeInteger(h.journalLines) &&
    (h.journalLines as number) >= 0 &&
    typeof h.journalHead === 'string' &&
    typeof h.journalTail === 'string' &&
    h.sections !== null &&
    typeof h.sections === 'object' &&
    Object.values(h.sections).every((n) => Number.isSafeInteger(n) && n >= 0)
  );
}

/**
 * Reads the snapshot and checks it: complete (trailer digest), of this format, and covering a prefix of the journal
 * as it is now. Anything else is reported with a warning and ignored.
 *
 * @param dataDir - the data directory
 * @param journalSize - the journal's current length
 * @param read - reads the journal
 * @param logger - receives the reason a snapshot is ignored
 * @returns the snapshot, or undefined when there is none or it cannot be used
 */
export function readSnapshot(dataDir: string, journalSize: number, read: ByteReader, logger: StorageLogger): LoadedSnapshot | undefined {
  const file = path.join(dataDir, SNAPSHOT_FILE);
  const ignore = (reason: string): undefined => {
    logger.warn({ file, reason }, 'snapshot: ignored; replaying the whole journal');
    return undefined;
  };
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return ignore(`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  // The trailer: the last line, which must be newline-terminated.
  if (data.length === 0 || data[data.length - 1] !== 0x0a) return ignore('incomplete (no trailer)');
  const trailerStart = data.lastIndexOf(0x0a, data.length - 2) + 1;
  let trailer: unknown;
  try {
    trailer = JSON.parse(data.subarray(trailerStart, data.length - 1).toString('utf8'));
  } catch {
    return ignore('incomplete (no trailer)');
  }
  const expected = (trailer as { t?: unknown; sha256?: unknown } | null)?.sha256;
  if ((trailer as { t?: unknown } | null)?.t !== 'end' || typeof expected !== 'string') return ignore('incomplete (no trailer)');
  const body = data.subarray(0, trailerStart);
  if (createHash('sha256').update(body).digest('hex') !== expected) return ignore('damaged (checksum mismatch)');
  const text = body.toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // after the last newline
  let header: unknown;
  try {
    header = JSON.parse(lines[0] ?? '');
  } catch {
    return ignore('damaged (unreadable header)');
  }
  if (!isHeader(header)) return ignore('of an unknown format');
  const counted = Object.values(header.sections).reduce((a, b) => a + b, 0);
  if (counted !== lines.length - 1) return ignore('damaged (wrong number of lines)');
  if (header.journalBytes > journalSize) return ignore(`covers ${header.journalBytes} journal bytes; the journal has ${journalSize}`);
  const fingerprint = journalFingerprint(read, header.journalBytes);
  if (fingerprint.journalHead !== header.journalHead || fingerprint.journalTail !== header.journalTail) {
    return ignore('does not match the journal (compacted or replaced since)');
  }
  return { header, lines: lines.slice(1), bytes: data.length };
}

/**
 * Removes a snapshot left half-written by a crash.
 *
 * @param dataDir - the data directory
 */
export function removeSnapshotLeftovers(dataDir: string): void {
  fs.rmSync(path.join(dataDir, SNAPSHOT_FILE + SNAPSHOT_TMP_SUFFIX), { force: true });
}
