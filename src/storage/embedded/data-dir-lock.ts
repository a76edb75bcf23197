/**
 * One process per data directory: two writers appending to the same journal would interleave records and
 * corrupt it. The lock is a `LOCK` file holding the owner's pid; a lock whose process is gone (kill -9, crash)
 * is stale and taken over. Closing the store releases it; so does the process exiting by any other path
 * (`process.exit`, an uncaught exception, a start-up failure), through an `exit` listener: only SIGKILL and a
 * crash of Node itself leave a LOCK behind, which the next start takes over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PRIVATE_FILE_MODE } from '../private-files';

/** Directories locked by this process (a restarted container may reuse the dead owner's pid, e.g. 1). */
const HELD = new Set<string>();

/** The data directory is in use by another live process, or already opened by this one. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `data directory ${dataDir} is in use by process ${pid}` +
        (pid === process.pid ? ' (this process: close the other storage first)' : '') +
        `; if that process is gone, remove ${path.join(dataDir, 'LOCK')}`,
    );
    this.name = 'DataDirLockedError';
  }
}

/**
 * The LOCK files this process holds, removed by one `exit` listener (synchronously: `exit` allows nothing else).
 * Kept on the process, not the module, so a module loaded more than once (test runners) adds no second listener.
 */
const ON_EXIT = Symbol.for('fhir-server.data-dir-locks');
function locksReleasedOnExit(): Set<string> {
  const holder = process as unknown as Record<symbol, Set<string> | undefined>;
  let files = holder[ON_EXIT];
  if (!files) {
    const held = new Set<string>();
    files = held;
    holder[ON_EXIT] = held;
    process.on('exit', () => {
      for (const lockFile of held) {
        try {
          if (ownerOf(lockFile) === process.pid) fs.rmSync(lockFile, { force: true });
        } catch {
          // Exiting: nothing more can be done about a file that cannot be read or removed.
        }
      }
    });
  }
  return files;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(lockFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Takes the lock on a data directory.
 *
 * @param dataDir - an existing directory
 * @returns a function that releases the lock
 * @throws DataDirLockedError when a live process (or this one) holds it
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const dir = fs.realpathSync(dataDir);
  const lockFile = path.join(dir, 'LOCK');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockFile, 'wx', PRIVATE_FILE_MODE);
      try {
        fs.writeSync(fd, `${process.pid}\n`);
      } finally {
        fs.closeSync(fd);
      }
      HELD.add(dir);
      const releasedOnExit = locksReleasedOnExit();
      releasedOnExit.add(lockFile);
      return () => {
        HELD.delete(dir);
        releasedOnExit.delete(lockFile);
        fs.rmSync(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = ownerOf(lockFile);
      const live = pid !== undefined && (pid === process.pid ? HELD.has(dir) : isAlive(pid));
      if (live) throw new DataDirLockedError(dir, pid);
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new DataDirLockedError(dir, ownerOf(lockFile) ?? 0);
}
