/**
 * Every stored version of every resource, ordered by (lastUpdated, versionId, _id) per resource, per
 * (project, type) and per project, so history queries find their `since`/`before` window by binary search and
 * page without scanning.
 */
import type { HistoryQuery, ResourceDocument } from '../ports';

function compareRows(a: ResourceDocument, b: ResourceDocument): number {
  if (a.lastUpdated !== b.lastUpdated) return a.lastUpdated < b.lastUpdated ? -1 : 1;
  if (a.versionId !== b.versionId) return a.versionId - b.versionId;
  return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

/** History rows kept in ascending (lastUpdated, versionId, _id) order. */
class OrderedRows {
  readonly rows: ResourceDocument[] = [];

  insert(row: ResourceDocument): void {
    const rows = this.rows;
    const last = rows[rows.length - 1];
    // Versions almost always arrive in order: append without searching.
    if (last === undefined || compareRows(last, row) <= 0) {
      rows.push(row);
      return;
    }
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareRows(rows[mid] as ResourceDocument, row) <= 0) lo = mid + 1;
      else hi = mid;
    }
    rows.splice(lo, 0, row);
  }

  /** Index of the first row with lastUpdated >= instant. */
  lowerBound(instant: string): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.rows[mid] as ResourceDocument).lastUpdated < instant) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** [start, end) of the rows inside since <= lastUpdated < before. */
  window(since: string | undefined, before: string | undefined): [number, number] {
    const start = since === undefined ? 0 : this.lowerBound(since);
    const end = before === undefined ? this.rows.length : this.lowerBound(before);
    return [start, Math.max(start, end)];
  }
}

/** The history of every resource in the embedded store. */
export class HistoryIndex {
  private readonly byVersionId = new Map<string, ResourceDocument>();
  private readonly byResource = new Map<string, OrderedRows>();
  private readonly byType = new Map<string, OrderedRows>();
  private readonly byProject = new Map<string, OrderedRows>();

  /** Number of history rows. */
  get size(): number {
    return this.byVersionId.size;
  }

  /**
   * Adds a version; its `_id` is `project/type/id/versionId`.
   *
   * @param row - the history row (owned by the index from now on)
   */
  add(row: ResourceDocument): void {
    this.byVersionId.set(row._id, row);
    this.rowsOf(this.byResource, `${row.project}/${row.type}/${row.id}`).insert(row);
    this.rowsOf(this.byType, `${row.project}/${row.type}`).insert(row);
    this.rowsOf(this.byProject, row.project).insert(row);
  }

  /**
   * One version (shared object), or undefined.
   *
   * @param historyId - `project/type/id/versionId`
   */
  get(historyId: string): ResourceDocument | undefined {
    return this.byVersionId.get(historyId);
  }

  /**
   * History rows newest first (lastUpdated desc, versionId desc), windowed and paged per the query.
   *
   * @param query - project, optional type/id, since/before, skip/limit
   * @returns shared rows: clone before handing them out
   */
  query(query: HistoryQuery): ResourceDocument[] {
    const ordered = this.select(query);
    if (!ordered) return [];
    const [start, end] = ordered.window(query.since, query.before);
    const skip = Math.max(0, query.skip ?? 0);
    const last = end - 1 - skip;
    const first = query.limit === undefined ? start : Math.max(start, last - query.limit + 1);
    const out: ResourceDocument[] = [];
    for (let i = last; i >= first; i--) out.push(ordered.rows[i] as ResourceDocument);
    return out;
  }

  /**
   * Number of rows the query selects, ignoring skip and limit.
   *
   * @param query - project, optional type/id, since/before
   */
  count(query: HistoryQuery): number {
    const ordered = this.select(query);
    if (!ordered) return 0;
    const [start, end] = ordered.window(query.since, query.before);
    return end - start;
  }

  /** Every row grouped by resource, each resource's versions in versionId order (for compaction). */
  *rowsByResource(): IterableIterator<ResourceDocument[]> {
    for (const ordered of this.byResource.values()) {
      yield ordered.rows.slice().sort((a, b) => a.versionId - b.versionId);
    }
  }

  private select(query: HistoryQuery): OrderedRows | undefined {
    if (query.id !== undefined) {
      if (query.type === undefined) throw new TypeError('history query with an id needs a type');
      return this.byResource.get(`${query.project}/${query.type}/${query.id}`);
    }
    if (query.type !== undefined) return this.byType.get(`${query.project}/${query.type}`);
    return this.byProject.get(query.project);
  }

  private rowsOf(map: Map<string, OrderedRows>, key: string): OrderedRows {
    let rows = map.get(key);
    if (!rows) {
      rows = new OrderedRows();
      map.set(key, rows);
    }
    return rows;
  }
}
