/**
 * DATA_DIR holds everything the server persists (the journal, its lock, the development key-encryption key), so
 * it is private to the server's user: the directory 0700, every file in it 0600. Files are created with those
 * modes; at start an existing directory is tightened (group and other access removed) and the change is logged.
 * On Windows, where POSIX modes mean nothing, nothing is done.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StorageLogger } from './logger';

/** Mode of every file the server writes in DATA_DIR. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of DATA_DIR and any directory in it. */
export const PRIVATE_DIR_MODE = 0o700;

const SKIP = process.platform === 'win32';

/** One mode change made by {@link makeDirectoryPrivate}. */
export interface ModeChange {
  path: string;
  from: string;
  to: string;
}

/**
 * Creates the directory if missing (0700) and removes group/other access from it and everything in it (symbolic
 * links are not followed). Logs a warning listing what it changed.
 *
 * @param dir - the data directory
 * @param logger - receives the list of changes, when there are any
 * @returns the changes made
 */
export function makeDirectoryPrivate(dir: string, logger: StorageLogger): ModeChange[] {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (SKIP) return [];
  const changes: ModeChange[] = [];
  const visit = (target: string): void => {
    const stat = fs.lstatSync(target);
    if (stat.isSymbolicLink()) return;
    const wanted = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      fs.chmodSync(target, wanted);
      changes.push({ path: target, from: mode.toString(8).padStart(4, '0'), to: wanted.toString(8).padStart(4, '0') });
    }
    if (stat.isDirectory()) for (const entry of fs.readdirSync(target)) visit(path.join(target, entry));
  };
  visit(dir);
  if (changes.length > 0) logger.warn({ dataDir: dir, changes }, 'data directory: removed group and other access');
  return changes;
}
