/**
 * Before the run: creates the registry of child processes (test/helpers/child-processes.ts; the workers inherit its
 * path through the environment) and rebuilds dist/ when src/ changed (test/helpers/built.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { ensureBuilt } from './helpers/built';
import { REGISTRY_ENV } from './helpers/child-processes';

export default function globalSetup(): void {
  process.env[REGISTRY_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-test-children-'));
  // Servers the tests start (they inherit this environment) hash passwords with real scrypt at its lowest cost:
  // about a millisecond per hash instead of ~170 ms (README, PASSWORD_HASH_COST).
  process.env.PASSWORD_HASH_COST ??= '10';
  // Each worker's bootstrapped data directory (test/helpers/build-test-app.ts).
  process.env.FHIR_TEST_TEMPLATES_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-test-templates-'));
  // The process tests start dist/ (what `npm start` runs): rebuilt here, once, when src/ changed since the last build.
  ensureBuilt();
}
