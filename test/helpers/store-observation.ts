/**
 * What a store answers, gathered into one comparable value: search pages and counts for a set of filters, the
 * history of every project and resource type, a vread of every version, and the records of some kinds. Two
 * stores that must hold the same state (one started from a snapshot, one from the whole journal) give equal
 * observations.
 */
import type { Filter, Storage } from '../../src/storage/ports';

export interface ObservationPlan {
  projects: string[];
  types: string[];
  filters: Filter[];
  recordKinds: string[];
}

export async function observeStore(storage: Storage, plan: ObservationPlan): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [i, filter] of plan.filters.entries()) {
    const ascending = await storage.resources.search(filter, { sort: [['_id', 1]] });
    const page = await storage.resources.search(filter, { sort: [['lastUpdated', -1], ['_id', 1]], skip: 1, limit: 7 });
    out[`search ${i} ${JSON.stringify(filter)}`] = {
      all: ascending.map((d) => [d._id, d.versionId, d.deleted, d.resource ?? null]),
      page: page.map((d) => `${d._id}@${d.versionId}`),
      count: await storage.resources.count(filter),
    };
  }
  for (const project of plan.projects) {
    const rows = await storage.resources.history({ project });
    out[`history ${project}`] = rows.map((d) => [d._id, d.lastUpdated, d.deleted, d.resource ?? null]);
    out[`history count ${project}`] = await storage.resources.countHistory({ project });
    for (const type of plan.types) {
      const typed = await storage.resources.history({ project, type, skip: 1, limit: 5 });
      out[`history ${project} ${type}`] = typed.map((d) => d._id);
    }
    for (const row of rows) {
      const version = await storage.resources.readVersion(project, row.type, row.id, row.versionId);
      out[`vread ${row._id}`] = version && [version.versionId, version.lastUpdated, version.resource ?? null];
    }
  }
  for (const kind of plan.recordKinds) {
    const records = await storage.records.find(kind);
    out[`records ${kind}`] = records.map((r) => [r.key, r.value]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  }
  return out;
}
