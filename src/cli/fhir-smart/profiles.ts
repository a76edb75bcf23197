/**
 * Profiles: `$XDG_CONFIG_HOME/fhir-smart/profiles.json`, mode 0600 in a 0700 directory (tightened on every write),
 * written atomically (a temporary file renamed over the old one). A profile names a server and the project in use,
 * and keeps one session (tokens) per project it has logged in to, so `project use` can switch back and forth.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';
import { usageError } from './errors';

/** A lock older than this (ms) was left by a process that died. */
const STALE_LOCK_MS = 30_000;

/** Tokens of one project. */
export interface StoredSession {
  /** How they were obtained: the browser flow (public client) or client_credentials. */
  grant: 'authorization_code' | 'client_credentials';
  clientId: string;
  /** client_credentials only: needed to obtain a new token (the file is 0600). */
  clientSecret?: string;
  accessToken: string;
  refreshToken?: string;
  /** Epoch seconds. */
  expiresAt?: number;
  scope?: string;
}

/** One profile. */
export interface Profile {
  server: string;
  tenant: string;
  project: string;
  /** Keyed by `tenant/project`. */
  sessions: Record<string, StoredSession>;
}

/** The file. */
export interface ProfilesFile {
  current?: string;
  profiles: Record<string, Profile>;
}

/** Where profiles are kept. */
export class ProfileStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'profiles.json');
  }

  /** The file's content; an empty one when it does not exist yet. */
  read(): ProfilesFile {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
      throw usageError(`cannot read ${this.file}: ${(err as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as ProfilesFile;
      if (typeof parsed !== 'object' || parsed === null || typeof parsed.profiles !== 'object' || parsed.profiles === null) throw new Error('no profiles object');
      return parsed;
    } catch (err) {
      throw usageError(`${this.file} is not a profiles file (${(err as Error).message}); remove it and log in again`);
    }
  }

  /** Replaces the file (0600, directory 0700). */
  write(content: ProfilesFile): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.dir, 0o700);
    const temp = path.join(this.dir, `.profiles.${randomBytes(6).toString('hex')}.tmp`);
    fs.writeFileSync(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    fs.chmodSync(temp, 0o600);
    fs.renameSync(temp, this.file);
  }

  /**
   * Runs a task while holding the profiles lock (a directory next to the file; one left by a process that died is
   * taken over after {@link STALE_LOCK_MS}).
   * @param task - the task
   * @returns its result
   */
  async withLock<T>(task: () => Promise<T>): Promise<T> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lock = path.join(this.dir, '.lock');
    const started = Date.now();
    for (;;) {
      try {
        fs.mkdirSync(lock, { mode: 0o700 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw usageError(`cannot lock ${this.dir}: ${(err as Error).message}`);
        let age = 0;
        try {
          age = Date.now() - fs.statSync(lock).mtimeMs;
        } catch {
          continue;
        }
        if (age > STALE_LOCK_MS || Date.now() - started > STALE_LOCK_MS) {
          fs.rmSync(lock, { recursive: true, force: true });
          continue;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    try {
      return await task();
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }

  /** Reads, changes and writes the file. */
  update(change: (content: ProfilesFile) => void): ProfilesFile {
    const content = this.read();
    change(content);
    this.write(content);
    return content;
  }
}

/** The session key of a project. */
export function projectKey(tenant: string, project: string): string {
  return `${tenant}/${project}`;
}
