/**
 * Creates the run's registry of child processes (test/helpers/child-processes.ts); the workers inherit its path
 * through the environment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { REGISTRY_ENV } from './helpers/child-processes';

export default function globalSetup(): void {
  process.env[REGISTRY_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-test-children-'));
}
