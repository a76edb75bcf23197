/**
 * Collection names and the indexes created at start (createIndexes is idempotent for identical definitions).
 */
import type { Db } from 'mongodb';

/** Collection names. */
export const COLLECTIONS = {
  /** The current version of every resource (deletion markers included). */
  resources: 'resources',
  /** Every version of every resource. */
  history: 'resource_history',
  /** Auth and short-lived records. */
  records: 'records',
} as const;

/**
 * Compound indexes for the search parameters most clinical queries use (docs/search-index.md layout); every
 * other parameter is served by the wildcard index.
 */
export const CLINICAL_INDEXES = [
  'index.patient.r',
  'index.subject.r',
  'index.encounter.r',
  'index.code.c',
  'index.category.c',
  'index.identifier.c',
  'index.status.c',
  'index.date.lo',
  'index.name.n',
  'index.family.n',
  'index.birthdate.lo',
  'index.email.c',
  'index.user.r',
] as const;

/**
 * Creates the adapter's indexes:
 * - resources: {project, type, lastUpdated}; unique multikey {project, uniqueKeys} over non-deleted documents
 *   that hold at least one unique key; a wildcard index on `index.$**` for search predicates, {project, type, id}
 *   for `_id` and keyset paging, and {project, type, <field>} for the common clinical parameters;
 * - history: unique {project, type, id, versionId}; {project, lastUpdated, versionId, _id} and
 *   {project, type, lastUpdated, versionId, _id} serving project- and type-level history newest first;
 * - records: unique {kind, key}; TTL on `expireAt` (MongoDB removes expired records within about a minute;
 *   reads filter them out before that).
 *
 * @param db - the database
 */
export async function ensureIndexes(db: Db): Promise<void> {
  await db.collection(COLLECTIONS.resources).createIndexes([
    { key: { project: 1, type: 1, lastUpdated: 1 }, name: 'project_type_lastUpdated' },
    {
      key: { project: 1, uniqueKeys: 1 },
      name: 'project_uniqueKeys_unique',
      unique: true,
      // `$type: 'string'` = "has at least one key": an empty array would otherwise be indexed as one shared
      // undefined key and make every document with `uniqueKeys: []` in a project collide.
      partialFilterExpression: { uniqueKeys: { $type: 'string' }, deleted: false },
    },
    { key: { 'index.$**': 1 }, name: 'index_wildcard' },
    { key: { project: 1, type: 1, id: 1 }, name: 'project_type_id' },
    ...CLINICAL_INDEXES.map((path) => ({ key: { project: 1, type: 1, [path]: 1 }, name: `project_type_${path}` })),
  ]);
  await db.collection(COLLECTIONS.history).createIndexes([
    { key: { project: 1, type: 1, id: 1, versionId: 1 }, name: 'project_type_id_versionId_unique', unique: true },
    { key: { project: 1, lastUpdated: 1, versionId: 1, _id: 1 }, name: 'project_lastUpdated' },
    { key: { project: 1, type: 1, lastUpdated: 1, versionId: 1, _id: 1 }, name: 'project_type_lastUpdated' },
  ]);
  await db.collection(COLLECTIONS.records).createIndexes([
    { key: { kind: 1, key: 1 }, name: 'kind_key_unique', unique: true },
    { key: { expireAt: 1 }, name: 'expireAt_ttl', expireAfterSeconds: 0 },
  ]);
}
