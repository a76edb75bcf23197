/**
 * What creating a `Project` resource does (docs/projects.md), with the server's authority once the access layer of
 * the system project has permitted the create:
 * 1. the project's registry record (so its URLs resolve) and its first signing key;
 * 2. its owner: the `owner` User of the system project (default: the creating user; when a client creates the
 *    project for itself, the system project's `owner` User), copied as `User/owner` with role owner — same email,
 *    name and password hash, so the same credentials sign in there — and `Membership/owner`;
 * 3. when a client created it for itself (client_credentials), that ClientApplication, copied with its credentials
 *    and the scope `system/*.*`, so the creator administers the new project at once (`npm run seed -- demo --tenant t
 *    --project p`);
 * 4. `AccessPolicy/admin-full-access` (full-access) targeting the owner's Membership and the copied client;
 * 5. every public ClientApplication (`tokenEndpointAuthMethod: none`) of seed/bootstrap.json;
 * 6. the seed bundle named by `seed`.
 * Every step is an idempotent PUT of a fixed id. Also: the start-up reconciliation giving every project a Project
 * resource (projects created before Project resources existed, and the system project itself).
 */
import type { Config } from '../config/schema';
import { FhirRepository, type Resource } from '../fhir/repository/repository';
import type { Logger } from '../logger';
import type { KeyStore } from '../oauth/tokens/keys';
import { readSeedBundle } from '../seed/bootstrap';
import { loadSeedBundle } from '../seed/load-bundle';
import type { ResourceStore } from '../storage/ports';
import { ownerIdOf, systemProjectKey } from './project-resource';
import type { ProjectRegistry } from './projects';

/** The fixed ids of what a new project gets. */
export const NEW_PROJECT_IDS = { owner: 'owner', policy: 'admin-full-access' } as const;

/** Who created a Project (from the token). */
export interface ProjectCreator {
  userId?: string;
  clientId?: string;
}

/** What provisioning needs. */
export interface ProvisionDeps {
  config: Config;
  resources: ResourceStore;
  projects: ProjectRegistry;
  keys: KeyStore;
  logger: Logger;
}

type SeedEntry = { resource?: Resource; request?: { method?: string; url?: string } };

/**
 * The public ClientApplications of a seed bundle (`tokenEndpointAuthMethod: none`), as PUT entries.
 * @param bundle - the bundle (placeholders filled)
 * @returns the entries
 */
export function publicClientEntries(bundle: { entry?: SeedEntry[] }): SeedEntry[] {
  return (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'ClientApplication' && e.resource.tokenEndpointAuthMethod === 'none');
}

/** Creates projects from Project resources; see the module comment. */
export class ProjectProvisioner {
  /** @param deps - configuration, the resource store, the registry, the key store and the logger */
  constructor(private readonly deps: ProvisionDeps) {}

  /** The system project's key. */
  get systemProject(): string {
    return systemProjectKey(this.deps.config);
  }

  /**
   * After a Project write (the FHIR API's hook): provisions when the resource was created, or when its project was
   * never registered (a provisioning interrupted before its first step; writing the Project again retries it).
   * @param project - the stored Project resource
   * @param created - the write created it
   * @param creator - who wrote it
   */
  async written(project: Resource, created: boolean, creator: ProjectCreator): Promise<void> {
    if (created || !(await this.deps.projects.lookup(String(project.tenant), String(project.name)))) await this.created(project, creator);
  }

  /**
   * Provisions the project a Project resource describes, just stored in the system project.
   * @param project - the stored Project resource
   * @param creator - who created it
   */
  async created(project: Resource, creator: ProjectCreator): Promise<void> {
    const { config, resources, projects, keys, logger } = this.deps;
    const tenant = String(project.tenant);
    const name = String(project.name);
    const { project: registered, created } = await projects.ensure(tenant, name, String(project.id));
    if (!created) {
      // The project existed without a Project resource (made by an older version): this resource now describes it.
      if (registered.resourceId === undefined) await projects.attachResource(registered, String(project.id));
      logger.warn({ project: registered.key }, 'Project resource attached to an existing project; nothing provisioned');
      return;
    }
    const key = registered.key;
    await keys.activeKey(key);
    const system = new FhirRepository(resources, this.systemProject);
    const target = new FhirRepository(resources, key);
    const ownerId = ownerIdOf(project) ?? creator.userId ?? NEW_PROJECT_IDS.owner;
    const owner = (await system.readCurrent('User', ownerId))?.resource;
    const targets: Array<{ link: { reference: string } }> = [];
    if (owner) {
      await target.putStored({
        resourceType: 'User',
        id: NEW_PROJECT_IDS.owner,
        email: owner.email,
        ...(owner.name !== undefined ? { name: owner.name } : {}),
        role: 'owner',
        active: true,
        ...(owner.emailVerified !== undefined ? { emailVerified: owner.emailVerified } : {}),
        ...(typeof owner.password === 'string' ? { password: owner.password } : {}),
      });
      await target.update('Membership', NEW_PROJECT_IDS.owner, {
        resourceType: 'Membership',
        id: NEW_PROJECT_IDS.owner,
        user: { reference: `User/${NEW_PROJECT_IDS.owner}` },
        active: true,
      });
      targets.push({ link: { reference: `Membership/${NEW_PROJECT_IDS.owner}` } });
    }
    if (creator.userId === undefined && creator.clientId !== undefined) {
      const client = (await system.readCurrent('ClientApplication', creator.clientId))?.resource;
      if (client) {
        // The project's first administrator: full access there, whatever its scopes in the system project.
        const { meta: _meta, ...copy } = client;
        await target.putStored({ ...copy, resourceType: 'ClientApplication', scope: 'system/*.*' });
        targets.push({ link: { reference: `ClientApplication/${creator.clientId}` } });
      }
    }
    await target.update('AccessPolicy', NEW_PROJECT_IDS.policy, {
      resourceType: 'AccessPolicy',
      id: NEW_PROJECT_IDS.policy,
      name: 'Administrators: full access',
      description: `Full access to ${key} for its owner${targets.length > 1 ? ' and the client that created it' : ''}`,
      engine: 'full-access',
      ...(targets.length > 0 ? { target: targets } : {}),
    });
    const bootstrapBundle = await readSeedBundle('bootstrap', {
      ADMIN_EMAIL: config.adminEmail,
      ADMIN_CLIENT_ID: config.adminClientId,
      PUBLIC_URL: config.publicUrl,
    });
    const publicClients = await loadSeedBundle(target, { entry: publicClientEntries(bootstrapBundle) });
    const seed = typeof project.seed === 'string' ? await loadSeedBundle(target, await readSeedBundle(project.seed, { PUBLIC_URL: config.publicUrl })) : undefined;
    logger.info({ project: key, owner: owner ? `User/${ownerId}` : undefined, publicClients: publicClients.created, seed: project.seed, seeded: seed }, 'project created');
  }
}

/**
 * Gives every project a Project resource in the system project (start-up): the system project itself on first
 * start, and projects created by versions without Project resources. Idempotent.
 * @param config - the configuration
 * @param resources - the resource store
 * @param projects - the registry
 * @returns the number of Project resources created
 */
export async function reconcileProjectResources(config: Config, resources: ResourceStore, projects: ProjectRegistry): Promise<number> {
  const system = new FhirRepository(resources, systemProjectKey(config));
  let created = 0;
  for (const project of await projects.list()) {
    if (project.resourceId !== undefined && (await system.readCurrent('Project', project.resourceId))) continue;
    const existing = await system.search({ type: 'Project', uniqueKeys: `Project.name|${project.key}` }, { limit: 1 });
    let id = existing[0]?.id;
    if (id === undefined) {
      const isSystem = project.key === systemProjectKey(config);
      const result = await system.create({
        resourceType: 'Project',
        tenant: project.tenant,
        name: project.name,
        title: isSystem ? 'System project' : `${project.tenant}/${project.name}`,
        status: 'active',
      });
      id = String(result.resource.id);
      created++;
    }
    await projects.attachResource(project, id);
  }
  return created;
}
