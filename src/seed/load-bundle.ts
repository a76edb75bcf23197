/**
 * Loads a seed Bundle into a project idempotently. Every entry is a `PUT Type/id` (fixed ids make re-runs
 * converge): an entry whose stored version already has the same content (meta aside) is left alone, so loading
 * twice writes nothing the second time. Entries carrying write-only fields (password, secret) are always written.
 */
import type { FhirRepository, Resource } from '../fhir/repository/repository';
import { toPublicView } from '../fhir/repository/write-only-fields';

/** Counts of what a load did. */
export interface LoadSummary {
  created: number;
  updated: number;
  unchanged: number;
}

/** A seed bundle entry. */
interface SeedEntry {
  resource?: Resource;
  request?: { method?: string; url?: string };
}

/**
 * Loads the entries of a Bundle.
 * @param repo - the target project's repository
 * @param bundle - a Bundle whose entries are `PUT Type/id` requests
 * @param onProgress - called after each entry with its reference and what happened
 * @returns the summary
 */
export async function loadSeedBundle(
  repo: FhirRepository,
  bundle: { entry?: SeedEntry[] },
  onProgress: (reference: string, action: keyof LoadSummary, index: number, total: number) => void = () => undefined,
): Promise<LoadSummary> {
  const summary: LoadSummary = { created: 0, updated: 0, unchanged: 0 };
  const entries = bundle.entry ?? [];
  for (const [index, entry] of entries.entries()) {
    const resource = entry.resource;
    const url = entry.request?.url ?? '';
    if (!resource || entry.request?.method !== 'PUT' || url !== `${resource.resourceType}/${resource.id}`) {
      throw new Error(`seed entry ${index} must be a PUT to ${resource?.resourceType}/${resource?.id}`);
    }
    const current = await repo.readCurrent(resource.resourceType, resource.id as string);
    let action: keyof LoadSummary;
    if (current && !current.deleted && current.resource && !hasWriteOnlyFields(resource) && sameContent(toPublicView(current.resource), resource)) {
      action = 'unchanged';
    } else {
      const result = await repo.update(resource.resourceType, resource.id as string, resource);
      action = result.created ? 'created' : 'updated';
    }
    summary[action] += 1;
    onProgress(url, action, index + 1, entries.length);
  }
  return summary;
}

function hasWriteOnlyFields(resource: Resource): boolean {
  return toPublicView(resource) !== resource;
}

function sameContent(stored: Record<string, unknown>, incoming: Record<string, unknown>): boolean {
  const { meta: _a, ...left } = stored;
  const { meta: _b, ...right } = incoming;
  return canonical(left) === canonical(right);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
