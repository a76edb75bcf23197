/**
 * Tenants and projects. A project is identified by `tenant/project` (its storage key): every resource,
 * client, user and record belongs to exactly one, and nothing is visible across projects.
 * Project records live in the record store (kind `project`); lookups are cached in memory (projects are never
 * deleted, so a positive answer cannot go stale; negative answers are not cached, so a project created by
 * another instance is found on the next request).
 */
import type { RecordStore } from '../storage/ports';

/** A project as the server sees it. */
export interface Project {
  tenant: string;
  name: string;
  /** `tenant/project`, the storage key. */
  key: string;
  createdAt: string;
}

const KIND = 'project';
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Lookup and creation of projects. */
export class ProjectRegistry {
  private readonly cache = new Map<string, Project>();

  /** @param records - the record store */
  constructor(private readonly records: RecordStore) {}

  /**
   * Finds a project.
   * @param tenant - the tenant slug from the URL
   * @param name - the project slug from the URL
   * @returns the project, or undefined when either is unknown
   */
  async find(tenant: string, name: string): Promise<Project | undefined> {
    if (!SLUG.test(tenant) || !SLUG.test(name)) return undefined;
    const key = `${tenant}/${name}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const record = await this.records.get(KIND, key);
    if (!record) return undefined;
    const project = record.value as unknown as Project;
    this.cache.set(key, project);
    return project;
  }

  /**
   * Creates a project unless it exists.
   * @param tenant - the tenant slug
   * @param name - the project slug
   * @returns the project and whether it was created now
   */
  async ensure(tenant: string, name: string): Promise<{ project: Project; created: boolean }> {
    if (!SLUG.test(tenant) || !SLUG.test(name)) throw new Error(`invalid tenant or project name: ${tenant}/${name}`);
    const key = `${tenant}/${name}`;
    const project: Project = { tenant, name, key, createdAt: new Date().toISOString() };
    const created = await this.records.insert({ kind: KIND, key, value: { ...project } });
    const found = await this.find(tenant, name);
    if (!found) throw new Error(`project ${key} could not be created`);
    return { project: found, created };
  }
}
