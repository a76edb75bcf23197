/**
 * Tenants and projects. A project is identified by `tenant/project` (its storage key): every resource,
 * client, user and record belongs to exactly one, and nothing is visible across projects.
 *
 * Project records live in the record store (kind `project`): they say that a project exists. Its administrative
 * face is a `Project` resource in the system project (the bootstrap project; docs/projects.md) whose id the record
 * keeps (`resourceId`); that resource's `status` switches the project on and off. A record without one (a project
 * made by an older version, before the start-up reconciliation gives it its resource) is active.
 *
 * Lookups are cached in memory: records are never deleted, so a known record cannot go stale; negative answers are
 * not cached, so a project created by another instance is found on the next request. The status is read through
 * the policy cache of the system project (`derived`), which every write of a Project resource invalidates — locally
 * before the write's response leaves, and on other instances through the write feed (policy/invalidation.ts) — so a
 * deactivation applies to the next request.
 */
import type { PolicyCache } from '../policy/cache';
import type { RecordStore, ResourceStore } from '../storage/ports';

/** A project as the server sees it. */
export interface Project {
  tenant: string;
  name: string;
  /** `tenant/project`, the storage key. */
  key: string;
  createdAt: string;
  /** The id of its Project resource in the system project, once it has one. */
  resourceId?: string;
}

const KIND = 'project';
/** A tenant or project slug: lower-case letters, digits and hyphens, 1-63 characters, not starting with a hyphen. */
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Whether a string is a valid tenant or project slug.
 * @param value - the candidate
 * @returns true for a slug
 */
export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG.test(value);
}

/** Where the status of projects is read (set once the app is built). */
interface StatusSource {
  resources: ResourceStore;
  cache: PolicyCache;
  /** The system project's key. */
  systemProject: string;
}

/** Lookup and creation of projects. */
export class ProjectRegistry {
  private readonly cache = new Map<string, Project>();
  private status?: StatusSource;

  /** @param records - the record store */
  constructor(private readonly records: RecordStore) {}

  /**
   * Reads each project's status from its Project resource from now on (buildApp calls this).
   * @param source - the resource store, its policy cache and the system project's key
   */
  followStatus(source: StatusSource): void {
    this.status = source;
  }

  /**
   * Finds an active project (what every URL of a project resolves through).
   * @param tenant - the tenant slug from the URL
   * @param name - the project slug from the URL
   * @returns the project, or undefined when either is unknown or the project is inactive
   */
  async find(tenant: string, name: string): Promise<Project | undefined> {
    const project = await this.lookup(tenant, name);
    if (!project) return undefined;
    return (await this.isActive(project)) ? project : undefined;
  }

  /**
   * Finds a project whatever its status.
   * @param tenant - the tenant slug
   * @param name - the project slug
   * @returns the project, or undefined when unknown
   */
  async lookup(tenant: string, name: string): Promise<Project | undefined> {
    if (!SLUG.test(tenant) || !SLUG.test(name)) return undefined;
    const key = `${tenant}/${name}`;
    const cached = this.cache.get(key);
    const source = this.status;
    if (cached && (cached.resourceId !== undefined || !source)) return cached;
    // A record without its Project resource yet: another instance may attach one (start-up reconciliation, which
    // also writes the Project resource and so invalidates the system project's cache): read it again then.
    if (cached && source) return source.cache.derived(source.systemProject, `project-record:${key}`, async () => (await this.read(key)) ?? cached);
    return this.read(key);
  }

  private async read(key: string): Promise<Project | undefined> {
    const record = await this.records.get(KIND, key);
    if (!record) return undefined;
    const project = record.value as unknown as Project;
    this.cache.set(key, project);
    return project;
  }

  /**
   * Every project record, in key order.
   * @returns the projects
   */
  async list(): Promise<Project[]> {
    const records = await this.records.find(KIND);
    return records.map((r) => r.value as unknown as Project).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Creates a project unless it exists.
   * @param tenant - the tenant slug
   * @param name - the project slug
   * @param resourceId - the id of its Project resource, when it has one already
   * @returns the project and whether it was created now
   */
  async ensure(tenant: string, name: string, resourceId?: string): Promise<{ project: Project; created: boolean }> {
    if (!SLUG.test(tenant) || !SLUG.test(name)) throw new Error(`invalid tenant or project name: ${tenant}/${name}`);
    const key = `${tenant}/${name}`;
    const project: Project = { tenant, name, key, createdAt: new Date().toISOString(), ...(resourceId ? { resourceId } : {}) };
    const created = await this.records.insert({ kind: KIND, key, value: { ...project } });
    const found = await this.lookup(tenant, name);
    if (!found) throw new Error(`project ${key} could not be created`);
    return { project: found, created };
  }

  /**
   * Records the id of a project's Project resource (start-up reconciliation).
   * @param project - the project
   * @param resourceId - the Project resource's id
   * @returns the updated project
   */
  async attachResource(project: Project, resourceId: string): Promise<Project> {
    const updated: Project = { ...project, resourceId };
    await this.records.put({ kind: KIND, key: project.key, value: { ...updated } });
    this.cache.set(project.key, updated);
    return updated;
  }

  private async isActive(project: Project): Promise<boolean> {
    const source = this.status;
    if (!source || project.resourceId === undefined || project.key === source.systemProject) return true;
    const id = project.resourceId;
    return source.cache.derived(source.systemProject, `project-status:${id}`, async () => {
      const doc = await source.resources.readCurrent(source.systemProject, 'Project', id);
      // A Project resource that is gone leaves the project as it was: deletion is refused, so this is only a store
      // edited by hand.
      return !doc?.resource || doc.deleted || doc.resource.status !== 'inactive';
    });
  }
}
