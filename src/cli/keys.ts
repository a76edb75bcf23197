/**
 * `npm run keys -- <command>`: manages a project's token signing keys in the configured store.
 * - `list`: the project's keys (kid, created, retired, published until);
 * - `rotate`: retires the active key and creates a new one. New tokens are signed with the new key at once by
 *   this store's servers (within a minute for other running instances, which reload keys every 60 s); the retired
 *   key stays in the JWKS and keeps verifying until every token it signed has expired (`removeAfter`).
 * Uses the same configuration variables as the server. With the embedded store, stop the server first: one
 * process at a time owns DATA_DIR.
 */
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { createLogger } from '../logger';
import { KeyStore } from '../oauth/tokens/keys';
import { openStorage } from '../storage/open';
import type { Storage } from '../storage/ports';
import { ProjectRegistry } from '../tenancy/projects';

interface ProjectOptions {
  tenant?: string;
  project?: string;
}

async function withProject(options: ProjectOptions, task: (storage: Storage, projectKey: string) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const storage = await openStorage({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, logger: createLogger('warn') });
  try {
    const tenant = options.tenant ?? config.bootstrapTenant;
    const name = options.project ?? config.bootstrapProject;
    const project = await new ProjectRegistry(storage.records).find(tenant, name);
    if (!project) throw new Error(`unknown project ${tenant}/${name}`);
    await task(storage, project.key);
  } finally {
    await storage.close();
  }
}

async function rotate(options: ProjectOptions): Promise<void> {
  await withProject(options, async (storage, key) => {
    const { kid, retired } = await new KeyStore(storage.records).rotate(key);
    process.stdout.write(`${key}: new signing key ${kid}${retired ? `; retired ${retired} (published until its tokens expire)` : ''}\n`);
  });
}

async function list(options: ProjectOptions): Promise<void> {
  await withProject(options, async (storage, key) => {
    const keys = await new KeyStore(storage.records).describe(key);
    if (keys.length === 0) process.stdout.write(`${key}: no signing key yet (one is created on first use)\n`);
    for (const k of keys) {
      const state = k.retiredAt ? `retired ${k.retiredAt}, published until ${k.removeAfter ?? '?'}` : 'active';
      process.stdout.write(`${key}: ${k.kid} ${k.alg} created ${k.createdAt} ${state}\n`);
    }
  });
}

const program = new Command().name('keys').description("Manage a project's token signing keys");
const projectOptions = (command: Command): Command =>
  command.option('--tenant <tenant>', 'tenant (default: BOOTSTRAP_TENANT)').option('--project <project>', 'project (default: BOOTSTRAP_PROJECT)');
projectOptions(program.command('rotate').description('retire the active signing key and create a new one')).action(rotate);
projectOptions(program.command('list').description('list the signing keys')).action(list);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`keys failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
