/**
 * Runs the storage contract suites against the embedded adapter, with a fresh temp data directory per test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../src/storage/embedded';
import { recordStoreContract } from './record-store.contract';
import { resourceStoreContract } from './resource-store.contract';
import { signingKeysAtRestContract } from './signing-keys-at-rest.contract';

const dirs: string[] = [];

async function open(): Promise<import('../../src/storage/ports').Storage> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-embedded-contract-'));
  dirs.push(dataDir);
  return openEmbeddedStorage({ dataDir });
}

async function cleanup(): Promise<void> {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

resourceStoreContract('embedded', open, cleanup);
recordStoreContract('embedded', open, cleanup);
signingKeysAtRestContract('embedded', open, cleanup);
