/**
 * The built server and CLIs (`dist/`, what `npm start` and the package's `bin` run), which the process tests start:
 * dist/ is rebuilt (TypeScript only, as `npm run build` does without its validator and admin-app steps) when a
 * TypeScript or JSON source of that build is newer than it. test/global-setup.ts calls {@link ensureBuilt} once before the run; a test file that
 * starts a built entry point may call it again (one build at a time, guarded by a lock directory).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';
import { CLI_DEADLINE_MS } from './child-processes';

/** The build output. */
const DIST_DIR = path.join(ROOT_DIR, 'dist');
/** A file every build writes. */
const MARKER = built('cli/main.js');

/**
 * The path of a built entry point.
 * @param file - its path under dist/ (`main.js`, `cli/seed.js`)
 * @returns the absolute path
 */
export function built(file: string): string {
  return path.join(DIST_DIR, file);
}

/**
 * Node's arguments running a built entry point as `npm start` does (source maps on).
 * @param file - its path under dist/
 * @param args - its arguments
 * @returns the arguments
 */
export function builtArgs(file: string, args: readonly string[] = []): string[] {
  return ['--enable-source-maps', built(file), ...args];
}

/** What tsconfig.build.json leaves out: the admin app (built by Vite) and what its tools write under it. */
const NOT_BUILT_BY_TSC = new Set([path.join(ROOT_DIR, 'src', 'admin-app')]);

/** The newest modification time of the TypeScript sources dist/ is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!NOT_BUILT_BY_TSC.has(full) && entry.name !== 'node_modules') newest = Math.max(newest, newestSource(full));
    } else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) {
      newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  }
  return newest;
}

function builtAt(): number {
  try {
    return fs.statSync(MARKER).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds dist/ when it is missing or older than src/ (as `npm run build` does, without the validator step). */
export function ensureBuilt(): void {
  if (builtAt() >= newestSource(path.join(ROOT_DIR, 'src'))) return;
  const lock = path.join(ROOT_DIR, 'dist', '.cli-test-build.lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + CLI_DEADLINE_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another worker builds: wait for it, then look again. A lock older than a build's deadline was left by a
      // worker that was killed while building.
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lock).mtimeMs;
      } catch {
        continue;
      }
      if (age > CLI_DEADLINE_MS) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} stayed locked; remove it if no build runs`);
      spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 500)']);
    }
  }
  try {
    if (builtAt() >= newestSource(path.join(ROOT_DIR, 'src'))) return;
    const tsc = path.join(ROOT_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT_DIR, encoding: 'utf8', timeout: CLI_DEADLINE_MS });
    if (result.status !== 0) throw new Error(`build failed: ${result.stdout} ${result.stderr}`);
  } finally {
    fs.rmdirSync(lock);
  }
}
