/**
 * The browser origins allowed to call a project's APIs cross-origin: for each active ClientApplication of the
 * project, the origins (`scheme://host[:port]`) of its `redirectUri`s and of its `allowedOrigin` entries, and the
 * `allowedOrigin` entries of the project's ProjectSettings.
 * Only http and https origins count; a value that is not an absolute URL is ignored. A loopback redirect URI
 * registered without a port (`http://127.0.0.1/cb`, RFC 8252 §7.3: a native app listening on any port) names no
 * browser origin and brings none.
 *
 * The set of each project is loaded with one search of its ClientApplications on first use and kept until a
 * ClientApplication (or another auth resource) is written: every such write goes through the policy cache's
 * invalidation hook (`notifyResourceWritten` in policy/cache.ts), whose invalidation count this cache compares
 * on each lookup, so a client created or changed through the FHIR API is honoured on the very next request.
 * Entries also expire after {@link ORIGIN_CACHE_MAX_AGE_MS}, so instances sharing MongoDB converge on another
 * instance's writes within that time.
 */
import { type ClientApplication, isClientActive } from '../oauth/clients/client-store';
import { isOrigin, SETTINGS_ID } from '../oauth/settings-rules';
import type { PolicyCache } from '../policy/cache';
import type { ResourceStore } from '../storage/ports';

/** Longest time an origin set is kept without a local invalidation (for writes made by other instances). */
export const ORIGIN_CACHE_MAX_AGE_MS = 60_000;

interface Entry {
  /** The policy cache's invalidation count when the load started. */
  generation: number;
  loadedAt: number;
  origins: Promise<ReadonlySet<string>>;
}

/**
 * The origin of a URL, when it is an absolute http(s) URL.
 * @param value - a redirect URI or origin
 * @returns `scheme://host[:port]`, or undefined
 */
export function originOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

function stringsOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `http://127.0.0.1/…` or `http://[::1]/…` without a port: a native app's redirect URI, not a web origin. */
const NATIVE_LOOPBACK_REDIRECT = /^http:\/\/(?:127\.0\.0\.1|\[::1\])(?:[/?#]|$)/;

/** The origins a ClientApplication brings. */
function clientOrigins(client: Record<string, unknown>): string[] {
  if (!isClientActive(client as ClientApplication)) return [];
  const redirects = stringsOf(client.redirectUri).filter((uri) => !(typeof uri === 'string' && NATIVE_LOOPBACK_REDIRECT.test(uri)));
  return [...redirects, ...stringsOf(client.allowedOrigin)].map(originOf).filter((o): o is string => o !== undefined);
}

/** Per-project allowed origin sets; see the module comment. */
export class AllowedOrigins {
  private readonly entries = new Map<string, Entry>();
  /** Number of origin-set loads (one search each), for tests and observability. */
  readonly stats = { loads: 0 };

  /**
   * @param store - the application's resource store
   * @param invalidations - the policy cache of that store (its generation grows on every auth-resource write)
   * @param now - clock in milliseconds
   */
  constructor(
    private readonly store: ResourceStore,
    private readonly invalidations: Pick<PolicyCache, 'currentGeneration'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether a project allows an origin.
   * @param project - the project key
   * @param origin - the request's `Origin` header
   * @returns true when some active ClientApplication of the project names that origin
   */
  async allows(project: string, origin: string): Promise<boolean> {
    return (await this.originsOf(project)).has(origin);
  }

  /**
   * The allowed origins of a project (cached).
   * @param project - the project key
   * @returns the set
   */
  originsOf(project: string): Promise<ReadonlySet<string>> {
    const generation = this.invalidations.currentGeneration;
    const now = this.now();
    const cached = this.entries.get(project);
    if (cached && cached.generation === generation && now - cached.loadedAt < ORIGIN_CACHE_MAX_AGE_MS) return cached.origins;
    const entry: Entry = { generation, loadedAt: now, origins: this.load(project) };
    this.entries.set(project, entry);
    entry.origins.catch(() => {
      if (this.entries.get(project) === entry) this.entries.delete(project);
    });
    return entry.origins;
  }

  private async load(project: string): Promise<ReadonlySet<string>> {
    this.stats.loads++;
    const docs = await this.store.search({ project, type: 'ClientApplication', deleted: false });
    const origins = new Set<string>();
    for (const doc of docs) if (!doc.deleted && doc.resource) for (const origin of clientOrigins(doc.resource)) origins.add(origin);
    // The project's own list (ProjectSettings.allowedOrigin): written by owners/admins only.
    const settings = await this.store.readCurrent(project, 'ProjectSettings', SETTINGS_ID);
    if (settings && !settings.deleted && settings.resource) for (const origin of stringsOf(settings.resource.allowedOrigin)) if (isOrigin(origin)) origins.add(origin);
    return origins;
  }
}
