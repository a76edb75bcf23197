/**
 * Collection names and the indexes created at start (docs/mongodb.md "Indexes").
 *
 * Every search the server runs reaches the `resources` collection as `{ project, type, deleted: false, ... }` plus
 * the compiled criteria (docs/search-index.md), sorted by the `_sort` keys and `_id`. The indexes follow the
 * equality-sort-range rule for those shapes:
 * - `{project, type, index.$**}` (a compound wildcard index, MongoDB 7.0+) serves every criterion on any search
 *   parameter entry (`index.<code>.<part>`) after the project and type equalities;
 * - `{project, type, <sort field>, _id}` walks a type in the order of the default sort (`_id`), `_id`,
 *   `_lastUpdated` and the parameters listed in {@link SORT_INDEXED_CODES}, so pages of a listing (and their keyset
 *   continuation) read only what they return; the `lastUpdated` one also serves `_lastUpdated` criteria and the
 *   "written since the snapshot" half of every page.
 * test/storage/mongo/index-coverage.test.ts compiles every R4 search parameter through the real search code and
 * checks each resulting filter against these declarations (src/storage/mongo/index-coverage.ts).
 */
import type { Db, IndexDescription } from 'mongodb';

/** Collection names. */
export const COLLECTIONS = {
  /** The current version of every resource (deletion markers included). */
  resources: 'resources',
  /** Every version of every resource. */
  history: 'resource_history',
  /** Auth and short-lived records. */
  records: 'records',
  /** Login and OAuth rate-limit counters shared by every instance. */
  rateLimits: 'rate_limits',
} as const;

/** One declared index: a name and its keys in order (`$**` marks a wildcard term). */
export type IndexSpec = IndexDescription & { name: string; key: Record<string, 1 | -1> };

/**
 * Search parameters whose `_sort` is index-backed on every type that has them (`sort.<code>`). Other parameters
 * sort in memory (a bounded top-k) over the documents the criteria select: without criteria, over the whole
 * type. MongoDB allows 64 indexes per collection and every index costs each write, so only the parameters most
 * listings sort by are here.
 */
export const SORT_INDEXED_CODES = ['date', 'birthdate', 'name', 'family', 'authored', 'issued'] as const;

/** Indexes of `resources`. */
export const RESOURCE_INDEXES: readonly IndexSpec[] = [
  { key: { project: 1, type: 1, _id: 1 }, name: 'project_type__id' },
  { key: { project: 1, type: 1, id: 1, _id: 1 }, name: 'project_type_id__id' },
  { key: { project: 1, type: 1, lastUpdated: 1, _id: 1 }, name: 'project_type_lastUpdated__id' },
  { key: { project: 1, type: 1, 'index.$**': 1 }, name: 'project_type_index_wildcard' },
  ...SORT_INDEXED_CODES.map((code): IndexSpec => ({ key: { project: 1, type: 1, [`sort.${code}`]: 1, _id: 1 }, name: `project_type_sort.${code}__id` })),
  {
    key: { project: 1, uniqueKeys: 1 },
    name: 'project_uniqueKeys_unique',
    unique: true,
    // `$type: 'string'` = "has at least one key": an empty array would otherwise be indexed as one shared
    // undefined key and make every document with `uniqueKeys: []` in a project collide.
    partialFilterExpression: { uniqueKeys: { $type: 'string' }, deleted: false },
  },
];

/** Indexes of `resource_history`: one version by key, and project-, type- and instance-level history newest first. */
export const HISTORY_INDEXES: readonly IndexSpec[] = [
  { key: { project: 1, type: 1, id: 1, versionId: 1 }, name: 'project_type_id_versionId_unique', unique: true },
  { key: { project: 1, lastUpdated: 1, versionId: 1, _id: 1 }, name: 'project_lastUpdated' },
  { key: { project: 1, type: 1, lastUpdated: 1, versionId: 1, _id: 1 }, name: 'project_type_lastUpdated' },
  { key: { project: 1, type: 1, id: 1, lastUpdated: 1, versionId: 1, _id: 1 }, name: 'project_type_id_lastUpdated' },
];

/**
 * Indexes of `records`: one record by key; TTL on `expireAt` (MongoDB removes expired records within about a
 * minute; reads filter them out before that).
 */
export const RECORD_INDEXES: readonly IndexSpec[] = [
  { key: { kind: 1, key: 1 }, name: 'kind_key_unique', unique: true },
  { key: { expireAt: 1 }, name: 'expireAt_ttl', expireAfterSeconds: 0 },
];

/** Indexes of `rate_limits`: TTL on `resetAt`, so a window's counter disappears once it is over. */
export const RATE_LIMIT_INDEXES: readonly IndexSpec[] = [{ key: { resetAt: 1 }, name: 'resetAt_ttl', expireAfterSeconds: 0 }];

/** Index names earlier versions created that the indexes above replace; dropped at start when present. */
export const RETIRED_RESOURCE_INDEXES = [
  'project_type_lastUpdated',
  'project_type_id',
  'index_wildcard',
  ...['patient.r', 'subject.r', 'encounter.r', 'code.c', 'category.c', 'identifier.c', 'status.c', 'date.lo', 'name.n', 'family.n', 'birthdate.lo', 'email.c', 'user.r'].map(
    (path) => `project_type_index.${path}`,
  ),
] as const;

async function dropRetired(db: Db, collection: string, names: readonly string[]): Promise<void> {
  let existing: Set<string>;
  try {
    existing = new Set((await db.collection(collection).listIndexes().toArray()).map((index) => String(index.name)));
  } catch (err) {
    // NamespaceNotFound: a fresh database has nothing to drop.
    if ((err as { code?: unknown }).code === 26) return;
    throw err;
  }
  for (const name of names) if (existing.has(name)) await db.collection(collection).dropIndex(name);
}

/**
 * Creates the adapter's indexes (createIndexes is idempotent for identical definitions) after dropping the retired
 * ones. On a large collection the first start after an upgrade waits for the new indexes to be built.
 *
 * @param db - the database
 */
export async function ensureIndexes(db: Db): Promise<void> {
  await dropRetired(db, COLLECTIONS.resources, RETIRED_RESOURCE_INDEXES);
  await db.collection(COLLECTIONS.resources).createIndexes([...RESOURCE_INDEXES]);
  await db.collection(COLLECTIONS.history).createIndexes([...HISTORY_INDEXES]);
  await db.collection(COLLECTIONS.records).createIndexes([...RECORD_INDEXES]);
  await db.collection(COLLECTIONS.rateLimits).createIndexes([...RATE_LIMIT_INDEXES]);
}
