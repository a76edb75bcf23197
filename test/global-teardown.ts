/**
 * After the whole run: kills every child process a test started that is still running (a worker that timed out or
 * crashed before its own clean-up), names it on stderr, and removes the registry.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { REGISTRY_ENV } from './helpers/child-processes';

/** Whether `pid` still runs the command recorded for it (a reused pid belongs to someone else). */
function runs(pid: number, recorded: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(recorded);
  } catch {
    // No /proc (not Linux): the process exists if signal 0 reaches it.
    try {
      process.kill(pid, 0);
      return !fs.existsSync('/proc/self');
    } catch {
      return false;
    }
  }
}

export default function globalTeardown(): void {
  const templates = process.env.FHIR_TEST_TEMPLATES_DIR;
  if (templates) fs.rmSync(templates, { recursive: true, force: true });
  const dir = process.env[REGISTRY_ENV];
  if (!dir || !fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(name);
    const recorded = fs.readFileSync(path.join(dir, name), 'utf8');
    if (Number.isInteger(pid) && runs(pid, recorded)) {
      process.kill(pid, 'SIGKILL');
      process.stderr.write(`killed test child process ${pid} left running: ${recorded.split('\0').join(' ')}\n`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
