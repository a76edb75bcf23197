/**
 * Every stored version of every resource, ordered by (lastUpdated, versionId, _id) per resource, per
 * (project, type) and per project, so history queries find their `since`/`before` window by binary search and
 * page without scanning.
 *
 * Versions are not held in memory. A row keeps what ordering needs (the resource's key, versionId, lastUpdated)
 * and a slot in a table of journal positions (byte offset and length of the version's JSON); the version is read
 * back from the journal when asked for. Versions are added once their journal line is durable.
 */
import type { HistoryQuery } from '../ports';
import type { VersionSpan } from './resources-line';

/** One version in the history, without its content. */
export interface HistoryRow {
  /** `project/type/id`, shared by the rows of one resource. */
  readonly key: string;
  readonly versionId: number;
  readonly lastUpdated: string;
  /** Index into the position table. */
  readonly slot: number;
}

function compareRows(a: HistoryRow, b: HistoryRow): number {
  if (a.lastUpdated !== b.lastUpdated) return a.lastUpdated < b.lastUpdated ? -1 : 1;
  if (a.versionId !== b.versionId) return a.versionId - b.versionId;
  if (a.key === b.key) return 0;
  // The `_id` order of the history rows, `project/type/id/versionId` (not the same as comparing keys alone).
  const idA = `${a.key}/${a.versionId}`;
  const idB = `${b.key}/${b.versionId}`;
  return idA < idB ? -1 : idA > idB ? 1 : 0;
}

/** History rows kept in ascending (lastUpdated, versionId, _id) order. */
class OrderedRows {
  readonly rows: HistoryRow[] = [];

  insert(row: HistoryRow): void {
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
      if (compareRows(rows[mid] as HistoryRow, row) <= 0) lo = mid + 1;
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
      if ((this.rows[mid] as HistoryRow).lastUpdated < instant) lo = mid + 1;
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

/** Journal positions by slot: two typed arrays, grown by doubling (12 bytes per version). */
class PositionTable {
  offsets = new Float64Array(1024);
  lengths = new Uint32Array(1024);
  size = 0;

  push(offset: number, length: number): number {
    if (this.size === this.offsets.length) {
      const offsets = new Float64Array(this.size * 2);
      offsets.set(this.offsets);
      this.offsets = offsets;
      const lengths = new Uint32Array(this.size * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
    }
    this.offsets[this.size] = offset;
    this.lengths[this.size] = length;
    return this.size++;
  }
}

/** The history of every resource in the embedded store. */
export class HistoryIndex {
  private rowCount = 0;
  private readonly byResource = new Map<string, OrderedRows>();
  private readonly byType = new Map<string, OrderedRows>();
  private readonly byProject = new Map<string, OrderedRows>();
  private readonly positions = new PositionTable();
  /** Offsets reported by a compaction in progress, made current by {@link commitPlacements}. */
  private placed: Float64Array | undefined;

  /** Number of history rows. */
  get size(): number {
    return this.rowCount;
  }

  /**
   * Adds a version.
   *
   * @param version - its project, type, id, versionId and lastUpdated
   * @param span - where its JSON lies in the journal
   * @returns the row's slot
   */
  add(version: { project: string; type: string; id: string; versionId: number; lastUpdated: string }, span: VersionSpan): number {
    const built = `${version.project}/${version.type}/${version.id}`;
    // One key string per resource, however many versions it has.
    const key = this.byResource.get(built)?.rows[0]?.key ?? built;
    const slot = this.positions.push(span.offset, span.length);
    const row: HistoryRow = { key, versionId: version.versionId, lastUpdated: version.lastUpdated, slot };
    this.rowCount++;
    this.rowsOf(this.byResource, key).insert(row);
    this.rowsOf(this.byType, `${version.project}/${version.type}`).insert(row);
    this.rowsOf(this.byProject, version.project).insert(row);
    return slot;
  }

  /**
   * Removes every version of some resources of one type (an expunge). Their slots stay allocated, unused: a
   * compaction copies only the rows still here, so their bytes leave the journal then.
   *
   * @param project - the project
   * @param type - the type
   * @param ids - the resources' ids
   */
  removeResources(project: string, type: string, ids: readonly string[]): void {
    const keys = new Set<string>();
    for (const id of ids) {
      const key = `${project}/${type}/${id}`;
      const rows = this.byResource.get(key)?.rows;
      if (!rows) continue;
      keys.add(key);
      this.byResource.delete(key);
      this.rowCount -= rows.length;
    }
    if (keys.size === 0) return;
    for (const ordered of [this.byType.get(`${project}/${type}`), this.byProject.get(project)]) {
      if (!ordered) continue;
      const kept = ordered.rows.filter((row) => !keys.has(row.key));
      ordered.rows.length = 0;
      for (const row of kept) ordered.rows.push(row);
    }
  }

  /**
   * One version's row, or undefined.
   *
   * @param key - `project/type/id`
   * @param versionId - the version
   */
  get(key: string, versionId: number): HistoryRow | undefined {
    const rows = this.byResource.get(key)?.rows;
    if (!rows) return undefined;
    // A resource's rows are in lastUpdated order, which is versionId order unless clocks went backwards.
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((rows[mid] as HistoryRow).versionId < versionId) lo = mid + 1;
      else hi = mid;
    }
    const found = rows[lo];
    if (found?.versionId === versionId) return found;
    return rows.find((row) => row.versionId === versionId);
  }

  /** Where a version lies in the journal. */
  span(row: HistoryRow): VersionSpan {
    return this.spanOf(row.slot);
  }

  /** Where the version of a slot lies in the journal. */
  spanOf(slot: number): VersionSpan {
    return { offset: this.positions.offsets[slot] as number, length: this.positions.lengths[slot] as number };
  }

  /** A compaction starts: forget the offsets of one that did not complete. */
  beginPlacements(): void {
    this.placed = undefined;
  }

  /**
   * Records a version's offset in a journal being written by compaction; it becomes its position once
   * {@link commitPlacements} is called (the new file replaced the old one).
   */
  place(row: HistoryRow, offset: number): void {
    this.placed ??= new Float64Array(this.positions.offsets.length).fill(-1);
    this.placed[row.slot] = offset;
  }

  /**
   * Makes the offsets recorded by {@link place} current; versions added since the compaction began (not placed,
   * at or after `shift.from` in the old file) move by `shift.delta`.
   */
  commitPlacements(shift: { from: number; delta: number } = { from: Infinity, delta: 0 }): void {
    const placed = this.placed;
    this.placed = undefined;
    const offsets = this.positions.offsets;
    for (let slot = 0; slot < this.positions.size; slot++) {
      const offset = placed !== undefined && slot < placed.length ? (placed[slot] as number) : -1;
      if (offset >= 0) offsets[slot] = offset;
      else if ((offsets[slot] as number) >= shift.from) offsets[slot] = (offsets[slot] as number) + shift.delta;
    }
  }

  /**
   * History rows newest first (lastUpdated desc, versionId desc), windowed and paged per the query.
   *
   * @param query - project, optional type/id, since/before, skip/limit
   */
  query(query: HistoryQuery): HistoryRow[] {
    const ordered = this.select(query);
    if (!ordered) return [];
    const [start, end] = ordered.window(query.since, query.before);
    const skip = Math.max(0, query.skip ?? 0);
    const last = end - 1 - skip;
    const first = query.limit === undefined ? start : Math.max(start, last - query.limit + 1);
    const out: HistoryRow[] = [];
    for (let i = last; i >= first; i--) out.push(ordered.rows[i] as HistoryRow);
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

  /**
   * Every row at this instant, each project's rows in history order (so re-adding them in this order only
   * appends), with their positions: for a snapshot. Rows never change; positions are copied.
   */
  captureState(): { rows: HistoryRow[]; offsets: Float64Array; lengths: Uint32Array } {
    const rows: HistoryRow[] = [];
    for (const ordered of this.byProject.values()) for (const row of ordered.rows) rows.push(row);
    return {
      rows,
      offsets: this.positions.offsets.slice(0, this.positions.size),
      lengths: this.positions.lengths.slice(0, this.positions.size),
    };
  }

  /** Every row grouped by resource, each resource's versions in versionId order (for compaction). */
  *rowsByResource(): IterableIterator<HistoryRow[]> {
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
