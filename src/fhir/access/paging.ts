/**
 * Stable paging of search results under concurrent writes (keyset paging against a snapshot instant).
 *
 * The first page fixes a snapshot instant S (the moment it is read). Every resource gets a **position**: its sort
 * key as of S (from the version current at S), or, for a resource created or revived after S, the sort key of
 * its first live version after S. Positions never change, because history never changes. A page is "the next
 * `_count` resources whose position lies after the cursor's key" (or before it, for `previous`), where:
 * - resources not written since S are found by a keyset query on their stored sort key (which is their position);
 * - resources written since S (at most {@link CHANGED_LIMIT} per page) are read with their history and placed by
 *   their position.
 * Each page shows the current version of each resource, and only if it matches the search now.
 *
 * Guarantee: across the pages of one paging session (the links of one first page) no resource appears twice,
 * and every resource that existed at S and matches the search when the page holding its position is read
 * appears exactly once, in position order — whatever is created, updated or deleted between page fetches,
 * including updates that move a resource's sort key before the cursor. Resources deleted (or no longer
 * matching) before their page is read are not shown; resources created after S appear if their position lies
 * ahead of the cursor in the direction of travel. Limits: the guarantee holds while at most CHANGED_LIMIT
 * matching resources were written since S (beyond that, some changed resources may be missing, never
 * repeated); and S is no later than the earliest write the store accepted but has not made visible yet
 * (FhirRepository.snapshotInstant), so only a write stamped but not yet handed to the store while the first page
 * is read (its lastUpdated is before S, but it becomes visible only after the read) counts as part of the
 * snapshot although the first page did not see it.
 */
import type { Filter, ResourceDocument, Sort } from '../../storage/ports';
import type { FhirRepository } from '../repository/repository';
import type { Cursor, KeyValue } from '../search/cursor';
import { compareKeys, documentKey, keysetFilter, reverseSort } from '../search/keyset';

/** Most resources written since the snapshot that one page reconciles. */
export const CHANGED_LIMIT = 1000;
const HISTORY_TAIL = 20;

/** Whether an older version of a resource may decide its position (the caller may see that version). */
export type Placeable = (version: ResourceDocument) => Promise<boolean>;

/** One entry of a page. */
export interface PositionedDocument {
  doc: ResourceDocument;
  /** The entry's position (its key as of the snapshot). */
  key: KeyValue[];
}

/** A fetched page. */
export interface Page {
  entries: PositionedDocument[];
  /** The cursor the page was read with (first page: a fresh snapshot, from the start). */
  cursor: Cursor;
  /** More entries exist beyond the page in the direction it was read. */
  hasMore: boolean;
}

async function versionAt(repo: FhirRepository, doc: ResourceDocument, snapshot: string): Promise<ResourceDocument | undefined> {
  const { entries } = await repo.history({ type: doc.type, id: doc.id, before: snapshot, limit: 1 });
  const version = entries[0];
  return version && !version.deleted ? version : undefined;
}

async function firstLiveVersionSince(repo: FhirRepository, doc: ResourceDocument, snapshot: string): Promise<ResourceDocument | undefined> {
  const query = { type: doc.type, id: doc.id, since: snapshot };
  let { entries, total } = await repo.history({ ...query, limit: HISTORY_TAIL });
  if (total > entries.length) ({ entries } = await repo.history({ ...query, skip: total - HISTORY_TAIL, limit: HISTORY_TAIL }));
  // Newest first: the oldest live version is the last one that is not a deletion.
  for (let i = entries.length - 1; i >= 0; i--) if (!entries[i]?.deleted) return entries[i];
  return undefined;
}

/**
 * The position of a resource written since the snapshot.
 * @param repo - the project's repository
 * @param sort - the sort fields
 * @param doc - the current document
 * @param snapshot - the snapshot instant
 * @returns the position key
 */
async function positionOf(repo: FhirRepository, sort: Sort, doc: ResourceDocument, snapshot: string, placeable?: Placeable): Promise<KeyValue[]> {
  // A first version written after S is its own first live version: no history to read (the common case of
  // resources created while someone pages).
  if (doc.versionId === 1) return documentKey(sort, doc);
  const version = (await versionAt(repo, doc, snapshot)) ?? (await firstLiveVersionSince(repo, doc, snapshot)) ?? doc;
  // An older version the caller may not see never places a resource: its sort key would show through a cursor.
  if (version !== doc && placeable && !(await placeable(version))) return documentKey(sort, doc);
  return documentKey(sort, version, doc._id);
}

function inRange(sort: Sort, key: KeyValue[], cursor: Cursor): boolean {
  if (!cursor.key) return true;
  const c = compareKeys(sort, key, cursor.key);
  return cursor.direction === 'next' ? c > 0 : c < 0;
}

/**
 * Reads one page of the project's live documents, unjudged (the access-controlled repository judges it).
 * @param repo - the project's repository
 * @param filter - the compiled search filter
 * @param sort - the sort fields, `_id` last
 * @param cursor - where the page starts
 * @param count - the page size
 * @param placeable - which older versions may place a resource (default: all); a resource whose version at the
 *   snapshot is not placeable is placed by its current key, so a caller never learns the sort key of a version it
 *   may not see (at worst such a resource, moved since the snapshot, shows on two pages)
 * @returns the page, in sort order
 */
export async function fetchPage(repo: FhirRepository, filter: Filter, sort: Sort, cursor: Cursor, count: number, placeable?: Placeable): Promise<Page> {
  if (count === 0) return { entries: [], cursor, hasMore: false };
  const forward = cursor.direction === 'next';
  const range = cursor.key ? [keysetFilter(sort, cursor.key, cursor.direction)] : [];
  const [unchanged, changed] = await Promise.all([
    // The cheap conditions come first: the embedded store stops testing a document at the first false one.
    repo.search({ $and: [...range, { lastUpdated: { $lt: cursor.snapshot } }, filter] }, { sort: forward ? sort : reverseSort(sort), limit: count + 1 }),
    repo.search({ $and: [{ lastUpdated: { $gte: cursor.snapshot } }, filter] }, { sort: [['_id', 1]], limit: CHANGED_LIMIT }),
  ]);
  const entries: PositionedDocument[] = unchanged.map((doc) => ({ doc, key: documentKey(sort, doc) }));
  const placed = await Promise.all(changed.map(async (doc) => ({ doc, key: await positionOf(repo, sort, doc, cursor.snapshot, placeable) })));
  entries.push(...placed.filter((entry) => inRange(sort, entry.key, cursor)));
  entries.sort((a, b) => (forward ? 1 : -1) * compareKeys(sort, a.key, b.key));
  const hasMore = entries.length > count;
  const page = entries.slice(0, count);
  if (!forward) page.reverse();
  return { entries: page, cursor, hasMore };
}
