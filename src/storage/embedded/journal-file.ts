/**
 * Low-level file helpers for the journal: reading NDJSON lines in chunks (files larger than a JS string can hold
 * are fine), writing a file durably, and fsync of a directory after a rename.
 */
import * as fs from 'node:fs';
import { PRIVATE_FILE_MODE } from '../private-files';

/** One line of a journal file. */
export interface JournalLine {
  text: string;
  /** 1-based line number. */
  lineNumber: number;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** Length of the line in bytes, without its newline. */
  bytes: number;
  /** False for a final segment that has no newline (a torn write). */
  terminated: boolean;
}

const NEWLINE = 0x0a;

/**
 * Reads a file line by line without loading it whole.
 *
 * @param path - the file
 * @param chunkSize - read size in bytes
 * @param from - where to start (a line boundary) and the number of lines before it
 * @returns the lines in order; the last one has `terminated: false` when the file does not end with a newline
 */
export function* readLines(path: string, chunkSize = 1 << 20, from: { offset: number; lineNumber: number } = { offset: 0, lineNumber: 0 }): Generator<JournalLine> {
  const fd = fs.openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(chunkSize);
    let carry: Buffer[] = [];
    let carryLength = 0;
    let lineNumber = from.lineNumber;
    let offset = from.offset;
    let position = from.offset;
    for (;;) {
      const read = fs.readSync(fd, buffer, 0, chunkSize, position);
      position += read;
      if (read === 0) break;
      let start = 0;
      for (;;) {
        const nl = buffer.indexOf(NEWLINE, start);
        if (nl === -1 || nl >= read) {
          carry.push(Buffer.from(buffer.subarray(start, read)));
          carryLength += read - start;
          break;
        }
        const piece = buffer.subarray(start, nl);
        const bytes = carryLength > 0 ? Buffer.concat([...carry, piece]) : piece;
        lineNumber++;
        yield { text: bytes.toString('utf8'), lineNumber, offset, bytes: bytes.length, terminated: true };
        offset += bytes.length + 1;
        carry = [];
        carryLength = 0;
        start = nl + 1;
      }
    }
    if (carryLength > 0) {
      yield { text: Buffer.concat(carry).toString('utf8'), lineNumber: lineNumber + 1, offset, bytes: carryLength, terminated: false };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the whole buffer at the current position of a file opened synchronously.
 *
 * @param fd - an open file descriptor
 * @param data - bytes to write
 */
export function writeAllSync(fd: number, data: Buffer): void {
  let written = 0;
  while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
}

/**
 * Makes a rename or file creation inside a directory durable. Platforms that cannot fsync a directory
 * (Windows) are tolerated.
 *
 * @param dir - the directory
 */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Streams lines into a new file in large chunks and fsyncs it.
 *
 * @param path - the file to create (truncated if present; created with mode 0600)
 * @param lines - the lines, each already ending with a newline
 * @returns the number of bytes written
 */
export function writeFileDurably(path: string, lines: Iterable<string>): number {
  const fd = fs.openSync(path, 'w', PRIVATE_FILE_MODE);
  let total = 0;
  try {
    let chunk: string[] = [];
    let chunkChars = 0;
    const flush = (): void => {
      if (chunk.length === 0) return;
      const data = Buffer.from(chunk.join(''), 'utf8');
      writeAllSync(fd, data);
      total += data.length;
      chunk = [];
      chunkChars = 0;
    };
    for (const line of lines) {
      chunk.push(line);
      chunkChars += line.length;
      if (chunkChars >= 1 << 20) flush();
    }
    flush();
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

/** The operations the journal performs on its open file (a `fs.promises.FileHandle` has them). */
export interface JournalFileHandle {
  write(data: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * How the journal reaches the file system for appends and the free-space check. Production uses
 * {@link NODE_JOURNAL_FILE_SYSTEM}; a test passes its own through the store's options to make a write or an
 * fdatasync fail (ENOSPC, EIO) or to report a full disk, and to count fdatasyncs.
 */
export interface JournalFileSystem {
  /** Opens (creating with mode 0600 if missing) a file for appending. */
  openForAppend(path: string): Promise<JournalFileHandle>;
  /** Free space of the file system holding `dir`, in bytes, available to this user. */
  freeBytes(dir: string): Promise<number>;
}

/** The real file system. */
export const NODE_JOURNAL_FILE_SYSTEM: JournalFileSystem = {
  openForAppend: (path) => fs.promises.open(path, 'a', PRIVATE_FILE_MODE),
  freeBytes: async (dir) => {
    const stats = await fs.promises.statfs(dir);
    return stats.bavail * stats.bsize;
  },
};
