/**
 * `npm run keys -- <command>`: manages a project's token signing keys in the configured store.
 * - `list`: the project's keys (kid, created, retired, published until);
 * - `rotate`: retires the active key and creates a new one. New tokens are signed with the new key at once by
 *   this store's servers (within a minute for other running instances, which reload keys every 60 s); the retired
 *   key stays in the JWKS and keeps verifying until every token it signed has expired (`removeAfter`).
 * - `encryption`: checks that every stored private key opens with KEY_ENCRYPTION_KEY, encrypts keys still stored
 *   in clear and re-encrypts keys sealed by KEY_ENCRYPTION_KEY_PREVIOUS (what every server start also does);
 *   prints the key-encryption key id.
 * Uses the same configuration variables as the server. With the embedded store, stop the server first: one
 * process at a time owns DATA_DIR.
 */
import { Command } from 'commander';
import { startAudit } from '../audit';
import { loadConfig } from '../config/load';
import { createLogger } from '../logger';
import type { Config } from '../config/schema';
import { KeyStore } from '../oauth/tokens/keys';
import { type KeysAtRest, prepareKeysAtRest } from '../oauth/tokens/keys-at-rest';
import { openStorage } from '../storage/open';
import type { Storage } from '../storage/ports';
import { ProjectRegistry } from '../tenancy/projects';

interface ProjectOptions {
  tenant?: string;
  project?: string;
}

async function withStore<T>(task: (storage: Storage, keys: KeyStore, atRest: KeysAtRest, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger('warn');
  const storage = await openStorage({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, logger });
  try {
    const atRest = await prepareKeysAtRest(config, storage, logger);
    if (atRest.generatedKey) {
      process.stderr.write(`Generated the key-encryption key ${atRest.generatedKey} (shown once; kept in ${atRest.file}). Set KEY_ENCRYPTION_KEY in production.\n`);
    }
    // Rotations are recorded in the store's audit trail like the server's own key events.
    const audit = startAudit(config, storage.resources, logger, { retention: false });
    try {
      return await task(storage, new KeyStore(storage.records, atRest.encryption, audit.listener, 'keys command'), atRest, config);
    } finally {
      await audit.close();
    }
  } finally {
    await storage.close();
  }
}

async function withProject(options: ProjectOptions, task: (keys: KeyStore, projectKey: string) => Promise<void>): Promise<void> {
  await withStore(async (storage, keys, _atRest, config) => {
    const tenant = options.tenant ?? config.bootstrapTenant;
    const name = options.project ?? config.bootstrapProject;
    const project = await new ProjectRegistry(storage.records).find(tenant, name);
    if (!project) throw new Error(`unknown project ${tenant}/${name}`);
    await task(keys, project.key);
  });
}

async function rotate(options: ProjectOptions): Promise<void> {
  await withProject(options, async (keys, key) => {
    const { kid, retired } = await keys.rotate(key);
    process.stdout.write(`${key}: new signing key ${kid}${retired ? `; retired ${retired} (published until its tokens expire)` : ''}\n`);
  });
}

async function list(options: ProjectOptions): Promise<void> {
  await withProject(options, async (store, key) => {
    const keys = await store.describe(key);
    if (keys.length === 0) process.stdout.write(`${key}: no signing key yet (one is created on first use)\n`);
    for (const k of keys) {
      const state = k.retiredAt ? `retired ${k.retiredAt}, published until ${k.removeAfter ?? '?'}` : 'active';
      process.stdout.write(`${key}: ${k.kid} ${k.alg} created ${k.createdAt} ${state}\n`);
    }
  });
}

async function encryption(): Promise<void> {
  await withStore(async (_storage, _keys, atRest) => {
    const { kekId, previousKekId } = atRest.encryption;
    process.stdout.write(`key-encryption key ${kekId} (${atRest.source}${atRest.file ? ` ${atRest.file}` : ''})${previousKekId ? `, previous ${previousKekId}` : ''}\n`);
    process.stdout.write(`signing keys: ${atRest.checked} stored, all encrypted with ${kekId}; ${atRest.sealed} were in clear, ${atRest.resealed} re-encrypted from the previous key\n`);
  });
}

const program = new Command().name('keys').description("Manage a project's token signing keys");
const projectOptions = (command: Command): Command =>
  command.option('--tenant <tenant>', 'tenant (default: BOOTSTRAP_TENANT)').option('--project <project>', 'project (default: BOOTSTRAP_PROJECT)');
projectOptions(program.command('rotate').description('retire the active signing key and create a new one')).action(rotate);
projectOptions(program.command('list').description('list the signing keys')).action(list);
program
  .command('encryption')
  .description('check that every stored signing key opens with KEY_ENCRYPTION_KEY, encrypt clear ones and re-encrypt those of KEY_ENCRYPTION_KEY_PREVIOUS')
  .action(encryption);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`keys failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
