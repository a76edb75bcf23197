/**
 * The policy cache: compiled AccessPolicies, the principal → policies mapping, and the User, Membership and
 * ClientApplication records principals are built from, per project.
 * - Filled on first use with keyed reads and one indexed search per principal (`index.target`), never a scan.
 * - Invalidated for a project on every write (create, update, patch, delete) of AccessPolicy, Membership, User,
 *   ClientApplication, Project or ProjectSettings: FhirRepository calls {@link notifyResourceWritten} once the store has acknowledged the
 *   write, and a transaction's staged store does so at commit. The write's HTTP response leaves only afterwards,
 *   so the next request is judged by the new data.
 * - One cache per {@link ResourceStore} (a WeakMap, no module-level state per app); a staged transaction store
 *   has its own.
 * - Several server instances sharing MongoDB learn of each other's writes through the store's write feed (a change
 *   stream; invalidation.ts), and fall back to a maximum age when the deployment cannot provide one.
 */
import { deepFreeze } from '../storage/freeze';
import type { ResourceStore } from '../storage/ports';
import { compileAccessPolicy } from './compile';
import type { CompiledPolicy, PolicyResource } from './types';

/**
 * Resource types whose writes invalidate the cache: the principals and policies, and what values derived through the
 * cache are computed from (a project's status from its Project resource, the OAuth settings from ProjectSettings).
 */
export const POLICY_RESOURCE_TYPES: ReadonlySet<string> = new Set(['AccessPolicy', 'Membership', 'User', 'ClientApplication', 'Project', 'ProjectSettings']);

/** Elements never exposed to policies (write-only credentials). */
const HIDDEN_ELEMENTS: Readonly<Record<string, readonly string[]>> = { User: ['password'], ClientApplication: ['secret', 'registrationAccessToken'] };

/** Options of a {@link PolicyCache}. */
export interface PolicyCacheOptions {
  /** Reload entries older than this (ms); unset = only on invalidation (single instance). */
  maxAgeMs?: number;
}

interface ProjectEntry {
  generation: number;
  loadedAt: number;
  records: Map<string, Promise<PolicyResource | undefined>>;
  policies: Map<string, Promise<CompiledPolicy[]>>;
  compiled: Map<string, CompiledPolicy>;
  derived: Map<string, Promise<unknown>>;
}

/**
 * A resource as policies see it: without write-only credentials, frozen (it is shared between requests).
 * @param resource - the stored resource
 * @returns the sanitized copy
 */
export function policyView(resource: Record<string, unknown>): PolicyResource {
  const copy = structuredClone(resource) as PolicyResource;
  for (const element of HIDDEN_ELEMENTS[copy.resourceType] ?? []) delete copy[element];
  return deepFreeze(copy);
}

/** Compiled policies and principal records of one store; see the module comment. */
export class PolicyCache {
  private readonly projects = new Map<string, ProjectEntry>();
  private generation = 0;
  /** Number of policy compilations and store reads made (observability and tests). */
  readonly stats = { compilations: 0, reads: 0, searches: 0, invalidations: 0 };

  private maxAgeMs?: number;

  constructor(
    private readonly store: ResourceStore,
    options: PolicyCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs;
  }

  /**
   * Sets the maximum age of entries (when writes of other instances cannot be observed).
   * @param ms - the age in ms; undefined = entries live until invalidated
   */
  setMaxAge(ms: number | undefined): void {
    this.maxAgeMs = ms;
  }

  /**
   * A counter that grows on every invalidation: caches derived from the same writes (CORS origins) compare it to
   * know they are stale.
   * @returns the current generation
   */
  get currentGeneration(): number {
    return this.generation;
  }

  /**
   * Forgets everything cached for a project (or for all projects).
   * @param project - the project key; omit for all
   */
  invalidate(project?: string): void {
    this.generation++;
    this.stats.invalidations++;
    if (project === undefined) this.projects.clear();
    else this.projects.delete(project);
  }

  /**
   * A User, Membership or ClientApplication as policies see it (see {@link policyView}).
   * @param project - the project key
   * @param type - the resource type
   * @param id - the id
   * @returns the resource, or undefined when missing or deleted
   */
  record(project: string, type: string, id: string): Promise<PolicyResource | undefined> {
    const entry = this.entry(project);
    const key = `${type}/${id}`;
    return this.memo(project, entry, entry.records, key, async () => {
      this.stats.reads++;
      const doc = await this.store.readCurrent(project, type, id);
      return doc && !doc.deleted && doc.resource ? policyView(doc.resource) : undefined;
    });
  }

  /**
   * The compiled policies whose `target.link` names a principal, ordered by id.
   * @param project - the project key
   * @param reference - `Membership/<id>` or `ClientApplication/<id>`
   * @returns the policies
   */
  policiesFor(project: string, reference: string): Promise<CompiledPolicy[]> {
    const entry = this.entry(project);
    return this.memo(project, entry, entry.policies, reference, async () => {
      this.stats.searches++;
      const docs = await this.store.search({ project, type: 'AccessPolicy', deleted: false, 'index.target': { $elemMatch: { r: reference } } });
      return docs
        .filter((doc) => !doc.deleted && doc.resource)
        .map((doc) => this.compiled(entry, doc.id, doc.versionId, doc.resource as Record<string, unknown>))
        .filter((policy) => policy.targets.includes(reference))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  /**
   * A value computed only from this cache's records and policies (a principal without its `%fhirUser`, the
   * bearer check's verdict on a token's client, user and membership), kept exactly as long as they are: until
   * the project is invalidated or its entry expires.
   * @param project - the project key
   * @param key - what the value is of (callers prefix their own namespace)
   * @param compute - computes it from {@link record} and {@link policiesFor}
   * @returns the value
   */
  derived<T>(project: string, key: string, compute: () => Promise<T>): Promise<T> {
    const entry = this.entry(project);
    return this.memo(project, entry, entry.derived as Map<string, Promise<T>>, key, compute);
  }

  private compiled(entry: ProjectEntry, id: string, versionId: number, resource: Record<string, unknown>): CompiledPolicy {
    const key = `${id}/${versionId}`;
    let policy = entry.compiled.get(key);
    if (!policy) {
      this.stats.compilations++;
      policy = compileAccessPolicy(resource).policy;
      entry.compiled.set(key, policy);
    }
    return policy;
  }

  private entry(project: string): ProjectEntry {
    let entry = this.projects.get(project);
    const expired = entry && this.maxAgeMs !== undefined && Date.now() - entry.loadedAt > this.maxAgeMs;
    if (!entry || expired) {
      entry = { generation: this.generation, loadedAt: Date.now(), records: new Map(), policies: new Map(), compiled: new Map(), derived: new Map() };
      this.projects.set(project, entry);
    }
    return entry;
  }

  /** Caches a load unless the project was invalidated while it ran (its result may predate the write). */
  private memo<T>(project: string, entry: ProjectEntry, map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const cached = map.get(key);
    if (cached) return cached;
    const generation = this.generation;
    const promise = load().then(
      (value) => {
        if (this.generation !== generation || this.projects.get(project) !== entry) map.delete(key);
        return value;
      },
      (err: unknown) => {
        map.delete(key);
        throw err;
      },
    );
    map.set(key, promise);
    return promise;
  }
}

const caches = new WeakMap<ResourceStore, PolicyCache>();

/**
 * The policy cache of a store (created on first use).
 * @param store - the resource store (use the application's store, not a transaction's staged view)
 * @param options - used only when the cache is created
 * @returns the cache
 */
export function policyCacheFor(store: ResourceStore, options?: PolicyCacheOptions): PolicyCache {
  let cache = caches.get(store);
  if (!cache) {
    cache = new PolicyCache(store, options);
    caches.set(store, cache);
  }
  return cache;
}

/**
 * Tells the policy cache of a store that a resource was written (the invalidation hook). Cheap for other types.
 * @param store - the store the write went to
 * @param project - the project key
 * @param type - the resource type written
 */
export function notifyResourceWritten(store: ResourceStore, project: string, type: string): void {
  if (POLICY_RESOURCE_TYPES.has(type)) caches.get(store)?.invalidate(project);
}
