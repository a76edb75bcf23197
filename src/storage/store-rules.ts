/**
 * Rules both storage adapters apply identically: document ids, write validation, the default that hides
 * deletion markers from searches, and paging arguments.
 */
import type { Filter, ResourceDocument, ResourceWrite, StoredRecord } from './ports';

/**
 * The `_id` of a current document.
 *
 * @param doc - project, type and id of the resource
 * @returns `project/type/id`
 */
export function currentDocumentId(doc: Pick<ResourceDocument, 'project' | 'type' | 'id'>): string {
  return `${doc.project}/${doc.type}/${doc.id}`;
}

/**
 * The `_id` of a history row.
 *
 * @param doc - project, type, id and versionId of the version
 * @returns `project/type/id/versionId`
 */
export function historyDocumentId(doc: Pick<ResourceDocument, 'project' | 'type' | 'id' | 'versionId'>): string {
  return `${doc.project}/${doc.type}/${doc.id}/${doc.versionId}`;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Checks the shape of a write before any precondition is evaluated: identifiers present, expectedVersion a
 * non-negative integer and versionId = expectedVersion + 1, deletion flag consistent.
 *
 * @param write - the write to check
 * @throws TypeError or RangeError naming the problem (a programming error in the caller, not a conflict)
 */
export function checkWrite(write: ResourceWrite): void {
  const { doc, expectedVersion } = write;
  if (!isNonEmptyString(doc.project) || !isNonEmptyString(doc.type) || !isNonEmptyString(doc.id)) {
    throw new TypeError('a resource write needs non-empty project, type and id');
  }
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
    throw new RangeError(`expectedVersion must be a non-negative integer, got ${String(expectedVersion)}`);
  }
  if (doc.versionId !== expectedVersion + 1) {
    throw new RangeError(
      `versionId of ${currentDocumentId(doc)} must be expectedVersion + 1 (${expectedVersion + 1}), got ${String(doc.versionId)}`,
    );
  }
  if (typeof doc.lastUpdated !== 'string' || typeof doc.deleted !== 'boolean') {
    throw new TypeError(`${currentDocumentId(doc)}: lastUpdated (string) and deleted (boolean) are required`);
  }
  if (doc.uniqueKeys !== undefined && !(Array.isArray(doc.uniqueKeys) && doc.uniqueKeys.every(isNonEmptyString))) {
    throw new TypeError(`${currentDocumentId(doc)}: uniqueKeys must be an array of non-empty strings`);
  }
}

/** True when the filter names the field at query level (top level or inside $and/$or/$nor). */
function mentionsField(filter: Filter, field: string): boolean {
  for (const [key, value] of Object.entries(filter)) {
    if (key === field) return true;
    if ((key === '$and' || key === '$or' || key === '$nor') && Array.isArray(value)) {
      if (value.some((part) => part !== null && typeof part === 'object' && mentionsField(part as Filter, field))) {
        return true;
      }
    }
  }
  return false;
}

/**
 * Search filters see deletion markers only when they ask for them: a filter that never names `deleted`
 * is narrowed to `deleted: false`.
 *
 * @param filter - the caller's filter
 * @returns the filter to evaluate
 */
export function withDeletionDefault(filter: Filter): Filter {
  return mentionsField(filter, 'deleted') ? filter : { ...filter, deleted: false };
}

/**
 * Checks skip/limit: non-negative integers when present. `limit: 0` means no results (unlike MongoDB's
 * "no limit"), and both adapters honour that.
 *
 * @param options - skip and limit as given
 * @throws RangeError for a negative or fractional value
 */
export function checkPaging(options: { skip?: number; limit?: number }): void {
  for (const name of ['skip', 'limit'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
    }
  }
}

/**
 * Checks a record before it is stored: kind and key non-empty strings, value an object, expiresAt an instant.
 *
 * @param record - the record to check
 * @returns the expiry as epoch milliseconds (Infinity when the record does not expire)
 * @throws TypeError naming the problem
 */
export function checkRecord(record: StoredRecord): number {
  if (!isNonEmptyString(record.kind) || !isNonEmptyString(record.key)) {
    throw new TypeError('a record needs a non-empty kind and key');
  }
  if (record.value === null || typeof record.value !== 'object' || Array.isArray(record.value)) {
    throw new TypeError(`record ${record.kind}/${record.key}: value must be an object`);
  }
  if (record.expiresAt === undefined) return Number.POSITIVE_INFINITY;
  const ms = typeof record.expiresAt === 'string' ? Date.parse(record.expiresAt) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new TypeError(`record ${record.kind}/${record.key}: expiresAt must be an ISO instant`);
  }
  return ms;
}

const LOGICAL_OPERATORS = new Set(['$and', '$or', '$nor']);

/**
 * Record filters are written over a record's `value`. The Mongo adapter stores the value as a sub-document, so
 * it prefixes every field path (at query level, including inside $and/$or/$nor; operator bodies such as
 * `$elemMatch` are relative to their field and stay as they are). The embedded adapter calls this with an empty
 * prefix so both refuse the same filters.
 *
 * @param filter - a filter over the record value
 * @param prefix - `value.` for MongoDB, '' to only check the filter
 * @returns the rewritten filter
 * @throws TypeError for top-level operators that cannot be rewritten ($expr, $where, $text, ...)
 */
export function prefixRecordFilter(filter: Filter, prefix: string): Filter {
  const out: Filter = {};
  for (const [key, condition] of Object.entries(filter)) {
    if (LOGICAL_OPERATORS.has(key)) {
      if (!Array.isArray(condition)) throw new TypeError(`${key} needs an array`);
      out[key] = condition.map((part: unknown) => prefixRecordFilter(part as Filter, prefix));
    } else if (key === '$comment') {
      out[key] = condition;
    } else if (key.startsWith('$')) {
      throw new TypeError(`operator ${key} is not supported in record filters`);
    } else {
      out[prefix + key] = condition;
    }
  }
  return out;
}
