/**
 * `npm run seed -- <name> [--tenant t --project p]`: loads `seed/<name>.json` into a project (default: the bootstrap
 * project) idempotently, printing one line per entry. Uses the same configuration variables as the server.
 *
 * Two paths (docs/projects.md "Seeding a running server"):
 * - offline, when it can open the store itself (no server running on DATA_DIR, or MongoDB): writes directly; a
 *   missing project is created as the API would create it (a Project resource of the system project, provisioned
 *   as if the admin client had created it);
 * - through the API, when a running server holds DATA_DIR (its LOCK), or with `--server`: signs in to the system
 *   project with the admin client (ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET, or --client-id / --client-secret) at
 *   PUBLIC_URL (or --server), creates the project with a `Project` create when it is missing (the creating client
 *   is then registered in it), and posts the bundle to the project as one transaction.
 */
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { usePasswordHashCost } from '../security/hashing';
import type { Config } from '../config/schema';
import { FhirRepository } from '../fhir/repository/repository';
import { createLogger } from '../logger';
import { bootstrap, readSeedBundle } from '../seed/bootstrap';
import { loadSeedBundle } from '../seed/load-bundle';
import { DataDirLockedError } from '../storage/embedded';
import { openStorage } from '../storage/open';
import { KeyStore } from '../oauth/tokens/keys';
import { prepareKeysAtRest } from '../oauth/tokens/keys-at-rest';
import { systemProjectKey } from '../tenancy/project-resource';
import { isSlug, ProjectRegistry } from '../tenancy/projects';
import { ProjectProvisioner } from '../tenancy/provision';

interface SeedOptions {
  tenant?: string;
  project?: string;
  server?: string;
  clientId?: string;
  clientSecret?: string;
}

/** A failure whose message is the line to print. */
class SeedError extends Error {}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function offline(config: Config, name: string, tenant: string, projectName: string): Promise<'locked' | 'done'> {
  const logger = createLogger('warn');
  let storage;
  try {
    storage = await openStorage({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, logger });
  } catch (err) {
    if (err instanceof DataDirLockedError) return 'locked';
    throw err;
  }
  try {
    const bundle = await readSeedBundle(name, { PUBLIC_URL: config.publicUrl });
    const projects = new ProjectRegistry(storage.records);
    await bootstrap(config, storage, projects);
    let project = await projects.find(tenant, projectName);
    if (!project && (await projects.lookup(tenant, projectName))) throw new SeedError(`project ${tenant}/${projectName} is inactive: activate it first (Project status active)`);
    if (!project) {
      // As the API would: a Project resource in the system project, provisioned as if the admin client created it.
      if (!isSlug(tenant) || !isSlug(projectName)) throw new SeedError(`tenant and project must be slugs (lower-case letters, digits, hyphens): ${tenant}/${projectName}`);
      const atRest = await prepareKeysAtRest(config, storage, logger);
      const provisioner = new ProjectProvisioner({ config, resources: storage.resources, projects, keys: new KeyStore(storage.records, atRest.encryption), logger });
      const stored = await new FhirRepository(storage.resources, systemProjectKey(config)).create({ resourceType: 'Project', tenant, name: projectName, title: `${tenant}/${projectName}` });
      await provisioner.created(stored.resource, { clientId: config.adminClientId });
      say(`Created project ${tenant}/${projectName}`);
      project = await projects.find(tenant, projectName);
      if (!project) throw new SeedError(`project ${tenant}/${projectName} could not be created`);
    }
    say(`Loading seed/${name}.json into ${project.key} (${bundle.entry?.length ?? 0} entries)`);
    const summary = await loadSeedBundle(new FhirRepository(storage.resources, project.key), bundle, (ref, action, i, total) => {
      say(`  [${i}/${total}] ${ref} ${action}`);
    });
    say(`Done: ${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged`);
    return 'done';
  } finally {
    await storage.close();
  }
}

/** The text of an error response: an OperationOutcome's diagnostics or an OAuth error's description. */
async function problem(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { issue?: Array<{ diagnostics?: string }>; error?: string; error_description?: string };
    const detail = body.issue?.map((i) => i.diagnostics).filter(Boolean).join('; ') || [body.error, body.error_description].filter(Boolean).join(': ');
    if (detail) return `${res.status} ${detail}`;
  } catch {
    // Not JSON: the status says enough.
  }
  return `${res.status} ${res.statusText}`;
}

async function call(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
  } catch (err) {
    throw new SeedError(`cannot reach the server at ${new URL(url).origin}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function token(server: string, tenant: string, project: string, clientId: string, secret: string): Promise<string | undefined> {
  const res = await call(`${server}/w/${tenant}/${project}/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  if (res.status === 401 || res.status === 400) return undefined;
  if (!res.ok) throw new SeedError(`token request to ${tenant}/${project} failed: ${await problem(res)}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function throughApi(config: Config, name: string, tenant: string, projectName: string, options: SeedOptions): Promise<void> {
  const server = (options.server ?? config.publicUrl).replace(/\/+$/, '');
  const clientId = options.clientId ?? config.adminClientId;
  const secret = options.clientSecret ?? config.adminClientSecret;
  if (!secret) {
    throw new SeedError('a running server holds DATA_DIR: the bundle is loaded through its API, which needs the admin client secret (ADMIN_CLIENT_SECRET or --client-secret)');
  }
  const bundle = await readSeedBundle(name, { PUBLIC_URL: server });
  const [sysTenant, sysProject] = [config.bootstrapTenant, config.bootstrapProject];
  const fhirOf = (t: string, p: string): string => `${server}/w/${t}/${p}/api/v1/fhir/r4`;
  say(`Loading seed/${name}.json into ${tenant}/${projectName} through the API at ${server} (${bundle.entry?.length ?? 0} entries)`);
  if (tenant !== sysTenant || projectName !== sysProject) {
    const admin = await token(server, sysTenant, sysProject, clientId, secret);
    if (!admin) throw new SeedError(`client ${clientId} cannot sign in to the system project ${sysTenant}/${sysProject}: check ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET`);
    const headers = { Authorization: `Bearer ${admin}`, Accept: 'application/fhir+json' };
    const query = new URLSearchParams({ tenant, name: projectName });
    const found = await call(`${fhirOf(sysTenant, sysProject)}/Project?${query.toString()}`, { headers });
    if (!found.ok) throw new SeedError(`cannot look up project ${tenant}/${projectName}: ${await problem(found)}`);
    const entry = ((await found.json()) as { entry?: Array<{ resource?: { status?: string } }> }).entry?.[0]?.resource;
    if (!entry) {
      const created = await call(`${fhirOf(sysTenant, sysProject)}/Project`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Project', tenant, name: projectName, title: `${tenant}/${projectName}` }),
      });
      if (created.status !== 201) throw new SeedError(`cannot create project ${tenant}/${projectName}: ${await problem(created)}`);
      say(`  created project ${tenant}/${projectName}`);
    } else if (entry.status === 'inactive') {
      throw new SeedError(`project ${tenant}/${projectName} is inactive: activate it first (Project status active)`);
    }
  }
  const access = await token(server, tenant, projectName, clientId, secret);
  if (!access) {
    throw new SeedError(`client ${clientId} cannot sign in to ${tenant}/${projectName}: it is registered there only when it created the project; use a client of that project (--client-id / --client-secret)`);
  }
  const res = await call(fhirOf(tenant, projectName), {
    method: 'POST',
    headers: { Authorization: `Bearer ${access}`, 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
    body: JSON.stringify({ ...bundle, resourceType: 'Bundle', type: 'transaction' }),
  });
  if (!res.ok) throw new SeedError(`the transaction was refused, nothing was loaded: ${await problem(res)}`);
  const result = (await res.json()) as { entry?: Array<{ response?: { status?: string } }> };
  const counts = { created: 0, updated: 0 };
  const entries = bundle.entry ?? [];
  for (const [i, entry] of entries.entries()) {
    const created = (result.entry?.[i]?.response?.status ?? '').startsWith('201');
    counts[created ? 'created' : 'updated']++;
    say(`  [${i + 1}/${entries.length}] ${entry.request?.url ?? ''} ${created ? 'created' : 'updated'}`);
  }
  say(`Done: ${counts.created} created, ${counts.updated} updated (one transaction)`);
}

async function run(name: string, options: SeedOptions): Promise<void> {
  const config = loadConfig();
  usePasswordHashCost(config.passwordHashCost);
  if (!/^[a-z0-9-]+$/.test(name)) throw new SeedError(`seed name must be a file name under seed/, got '${name}'`);
  const tenant = options.tenant ?? config.bootstrapTenant;
  const projectName = options.project ?? config.bootstrapProject;
  if (options.server === undefined && (await offline(config, name, tenant, projectName)) === 'done') return;
  await throughApi(config, name, tenant, projectName, options);
}

const program = new Command()
  .name('seed')
  .description('Load a seed bundle from seed/ into a project (idempotent); through the API when a server is running')
  .argument('<name>', 'bundle name, e.g. demo for seed/demo.json')
  .option('--tenant <tenant>', 'tenant (default: BOOTSTRAP_TENANT)')
  .option('--project <project>', 'project (default: BOOTSTRAP_PROJECT)')
  .option('--server <url>', 'load through the API of this server (default when DATA_DIR is held by a running server: PUBLIC_URL)')
  .option('--client-id <id>', 'admin client for the API (default: ADMIN_CLIENT_ID)')
  .option('--client-secret <secret>', 'its secret (default: ADMIN_CLIENT_SECRET)')
  .action(run);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
