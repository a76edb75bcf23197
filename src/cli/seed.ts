/**
 * `npm run seed -- <name>`: loads `seed/<name>.json` into a project (default: the bootstrap project)
 * idempotently, printing one line per entry. Uses the same configuration variables as the server. With the
 * embedded store, stop the server first: one process at a time owns DATA_DIR.
 */
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { FhirRepository } from '../fhir/repository/repository';
import { createLogger } from '../logger';
import { bootstrap, readSeedBundle } from '../seed/bootstrap';
import { loadSeedBundle } from '../seed/load-bundle';
import { openStorage } from '../storage/open';
import { ProjectRegistry } from '../tenancy/projects';

async function run(name: string, options: { tenant?: string; project?: string }): Promise<void> {
  const config = loadConfig();
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`seed name must be a file name under seed/, got '${name}'`);
  const logger = createLogger('warn');
  const storage = await openStorage({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, logger });
  try {
    const projects = new ProjectRegistry(storage.records);
    await bootstrap(config, storage, projects);
    const tenant = options.tenant ?? config.bootstrapTenant;
    const projectName = options.project ?? config.bootstrapProject;
    const project = await projects.find(tenant, projectName);
    if (!project) throw new Error(`unknown project ${tenant}/${projectName}`);
    const bundle = await readSeedBundle(name);
    process.stdout.write(`Loading seed/${name}.json into ${project.key} (${bundle.entry?.length ?? 0} entries)\n`);
    const summary = await loadSeedBundle(new FhirRepository(storage.resources, project.key), bundle, (ref, action, i, total) => {
      process.stdout.write(`  [${i}/${total}] ${ref} ${action}\n`);
    });
    process.stdout.write(`Done: ${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged\n`);
  } finally {
    await storage.close();
  }
}

const program = new Command()
  .name('seed')
  .description('Load a seed bundle from seed/ into a project (idempotent)')
  .argument('<name>', 'bundle name, e.g. demo for seed/demo.json')
  .option('--tenant <tenant>', 'tenant (default: BOOTSTRAP_TENANT)')
  .option('--project <project>', 'project (default: BOOTSTRAP_PROJECT)')
  .action(run);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
