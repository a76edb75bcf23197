import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import { searchParamsContract } from './search-params.contract';

const dirs = new Map<unknown, string>();
searchParamsContract(
  'embedded',
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fhir-search-'));
    const storage = await openEmbeddedStorage({ dataDir: dir });
    dirs.set(storage, dir);
    return storage;
  },
  async (storage) => {
    await rm(dirs.get(storage) as string, { recursive: true, force: true });
  },
);
