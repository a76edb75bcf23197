#!/usr/bin/env node
/**
 * `npm test`: the type checks and the admin app's component tests run beside jest instead of before and after it.
 * Each type check keeps one core busy for seconds while jest's two workers often wait on child processes (servers,
 * the CLI, Chromium), so the whole run is shorter by most of their time. Their output is held back and printed
 * after jest's, each under its own heading; the exit code is 0 only when every part passed.
 *
 * Arguments go to jest (`npm test -- test/api/fhir-crud.api.test.ts`); with arguments, the type checks and the
 * component tests still run.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const bin = (pkg, name) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), name);

/** Every child still running, stopped when this process is. */
const running = new Set();

/**
 * Runs a Node script of a package.
 * @param {string} label - the heading of its output
 * @param {string[]} args - the script and its arguments
 * @param {boolean} live - whether its output goes straight to the terminal (else it is kept for later)
 * @returns {Promise<{label: string, code: number, output: string}>}
 */
function run(label, args, live) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: live ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const chunks = [];
    child.stdout?.on('data', (chunk) => chunks.push(chunk));
    child.stderr?.on('data', (chunk) => chunks.push(chunk));
    child.on('error', (err) => chunks.push(Buffer.from(`${label}: ${err.message}\n`)));
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ label, code: code ?? (signal ? 1 : 0), output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    for (const child of running) child.kill(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

const tsc = bin('typescript', 'bin/tsc');
// One type check after the other: together with jest's two workers, two at once would only take turns.
const checks = (async () => {
  const results = [];
  for (const [label, project] of [
    ['type check (tsc -p tsconfig.json)', 'tsconfig.json'],
    ['type check of the admin app (tsc -p src/admin-app/tsconfig.json)', 'src/admin-app/tsconfig.json'],
  ]) {
    results.push(await run(label, [tsc, '-p', project, '--noEmit'], false));
  }
  results.push(await run('admin app component tests (vitest)', [bin('vitest', 'vitest.mjs'), 'run', '--config', 'src/admin-app/vite.config.ts'], false));
  return results;
})();
const jest = await run('jest', [bin('jest', 'bin/jest.js'), ...process.argv.slice(2)], true);
const results = [jest, ...(await checks)];

for (const { label, code, output } of results.slice(1)) {
  process.stdout.write(`\n── ${label}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}\n`);
  if (output.trim() !== '') process.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
}
const failed = results.filter((r) => r.code !== 0);
process.stdout.write(`\n${failed.length === 0 ? 'npm test: every part passed' : `npm test: FAILED: ${failed.map((r) => r.label).join('; ')}`}\n`);
process.exit(failed.length === 0 ? 0 : 1);
