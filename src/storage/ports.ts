/**
 * The storage port: everything the server persists goes through these interfaces.
 *
 * Two adapters implement it and pass one contract suite (test/storage/*.contract.ts):
 * - embedded (src/storage/embedded): in-memory documents evaluated with mingo, journaled to DATA_DIR;
 * - mongo (src/storage/mongo): the official driver, the same filter objects passed straight through.
 *
 * Filters are MongoDB query documents over {@link ResourceDocument}. Use only operators whose meaning is
 * identical in MongoDB and mingo ($eq $ne $in $nin $gt $gte $lt $lte $exists $and $or $nor $not $elemMatch
 * $all $size, RegExp values) and RegExp objects rather than `{ $regex: string }`.
 */

/** A MongoDB-syntax filter document. */
export type Filter = Record<string, unknown>;

/** Sort keys in order; 1 ascending, -1 descending (MongoDB semantics, missing values sort first). */
export type Sort = Array<[field: string, direction: 1 | -1]>;

/**
 * One stored version of a resource. The current-version collection holds the newest one per
 * (project, type, id); the history collection holds every version, including deletions.
 */
export interface ResourceDocument {
  /** `${project}/${type}/${id}` for current documents, `${project}/${type}/${id}/${versionId}` in history. */
  _id: string;
  project: string;
  type: string;
  id: string;
  /** 1 for the first version, incremented by one on every write (including delete). */
  versionId: number;
  /** ISO 8601 instant with milliseconds, UTC (`2026-01-01T00:00:00.000Z`); sorts lexically. */
  lastUpdated: string;
  /** True when this version records a deletion; `resource` is then absent. */
  deleted: boolean;
  /** The FHIR resource as stored (write-only fields already hashed). Absent on deletions. */
  resource?: Record<string, unknown>;
  /** The interaction that produced this version (create | update | patch | delete). */
  method: 'create' | 'update' | 'patch' | 'delete';
  /**
   * Keys that must be unique among the current, non-deleted documents of a project, e.g. `User.email|a@b.c`.
   * The store refuses a write that would make two documents share one ({@link UniqueConflictError}).
   */
  uniqueKeys?: string[];
  /** Search index values extracted from the resource (filled by the search layer; docs/search-index.md). */
  index?: Record<string, unknown>;
  /** Scalar sort keys per search parameter, for `_sort` (docs/search-index.md). */
  sort?: Record<string, unknown>;
}

/**
 * A write of one resource version. The store writes the current document and the history row together,
 * and refuses it when the precondition on the current version does not hold.
 */
export interface ResourceWrite {
  /** The new version; its `versionId` must be `expectedVersion + 1` (or 1 when creating). */
  doc: Omit<ResourceDocument, '_id'>;
  /**
   * The precondition: `0` = no current document may exist (create); `n` = the current document must have
   * versionId n (update/delete, compare-and-swap). A deleted current document counts as existing with its version.
   */
  expectedVersion: number;
}

/** Options for {@link ResourceStore.search}. */
export interface FindOptions {
  sort?: Sort;
  skip?: number;
  limit?: number;
}

/** Options for {@link ResourceStore.history}. */
export interface HistoryQuery {
  project: string;
  type?: string;
  id?: string;
  /** Only versions with lastUpdated >= since (ISO instant). */
  since?: string;
  /** Only versions with lastUpdated < before (ISO instant), for stable paging. */
  before?: string;
  skip?: number;
  limit?: number;
}

/** Options of a keyed read. */
export interface ReadOptions {
  /**
   * Include the search values (`index`, `sort`). Keyed reads serve the resource and its version; the search values
   * are larger than the resource and only the store itself (and its tests) need them back.
   */
  withIndex?: boolean;
  /**
   * The caller only reads the result (serializes it, judges it) and never changes it: a store that keeps
   * documents in memory may hand out the resource it holds, deep-frozen, instead of a copy.
   */
  shared?: boolean;
}

/** Resource persistence: current versions, history and search. */
export interface ResourceStore {
  /**
   * The current document (possibly a deletion marker) or undefined when the id was never used; without its search
   * values unless `withIndex`.
   */
  readCurrent(project: string, type: string, id: string, options?: ReadOptions): Promise<ResourceDocument | undefined>;
  /** One version from history, or undefined. */
  readVersion(project: string, type: string, id: string, versionId: number): Promise<ResourceDocument | undefined>;
  /**
   * Applies all writes atomically: either every precondition holds and every write is stored (current and
   * history), or nothing is stored and the first failure is thrown ({@link VersionConflictError} or
   * {@link UniqueConflictError}). Resolves only once the writes are durable.
   */
  write(writes: ResourceWrite[]): Promise<void>;
  /**
   * The earliest `lastUpdated` among writes accepted but not yet visible (waiting for their fdatasync), if any. A
   * search's paging snapshot starts no later than it, so a write that becomes visible after the first page was read
   * counts as written since the snapshot. Stores that make a write visible as they accept it need not implement it.
   */
  oldestPendingWrite?(): string | undefined;
  /** History rows, newest first (lastUpdated desc, then versionId desc). */
  history(query: HistoryQuery): Promise<ResourceDocument[]>;
  /** Number of history rows matching the query (skip/limit ignored). */
  countHistory(query: HistoryQuery): Promise<number>;
  /** Current documents matching the filter (deletion markers are included only if the filter asks for them). */
  search(filter: Filter, options?: FindOptions): Promise<ResourceDocument[]>;
  /** Number of current documents matching the filter. */
  count(filter: Filter): Promise<number>;
  /**
   * Removes resources for good: the current document and every version in history, so that reads, vreads,
   * history and searches no longer find them (the retention purge of AuditEvents; docs/audit.md "Retention"). Not a
   * FHIR delete: no deletion version is written. The embedded store drops the versions' bytes from DATA_DIR at its
   * next compaction. Ids never used are ignored. Resolves once the removal is durable.
   * @param project - the project
   * @param type - the resource type
   * @param ids - the ids
   */
  expunge(project: string, type: string, ids: readonly string[]): Promise<void>;
}

/** A short-lived or auth-related record (signing keys, codes, grants, sessions, projects...). */
export interface StoredRecord {
  /** The record kind, e.g. `project`, `signing-key`, `authorization-code`. */
  kind: string;
  /** Unique within the kind. */
  key: string;
  value: Record<string, unknown>;
  /** ISO instant after which the record is gone (expired records are never returned). */
  expiresAt?: string;
}

/** Key/value records with expiry. */
export interface RecordStore {
  /**
   * A live record.
   * @param kind - the kind
   * @param key - the key
   * @param options - `shared`: the caller only reads the result, so a store keeping records in memory may hand
   *   out its own, deep-frozen, instead of a copy
   */
  get(kind: string, key: string, options?: { shared?: boolean }): Promise<StoredRecord | undefined>;
  /** Creates or replaces a record. */
  put(record: StoredRecord): Promise<void>;
  /** Creates a record only if the key is free; returns false when it already exists. */
  insert(record: StoredRecord): Promise<boolean>;
  /** Atomically reads and deletes a record: of two concurrent calls at most one gets it. */
  consume(kind: string, key: string): Promise<StoredRecord | undefined>;
  delete(kind: string, key: string): Promise<void>;
  /** Records of a kind whose value matches the filter (a MongoDB filter over `value`). */
  find(kind: string, filter?: Filter): Promise<StoredRecord[]>;
  /** Deletes records of a kind whose value matches the filter; returns how many. */
  deleteMany(kind: string, filter: Filter): Promise<number>;
}

/** A resource write seen on the shared store, made by this or any other server instance. */
export interface ResourceWriteEvent {
  project: string;
  type: string;
  /** Where the feed can resume after this event. */
  resumeToken: unknown;
}

/** An open feed of writes; iterating it waits for the next write. */
export interface ResourceWriteStream extends AsyncIterable<ResourceWriteEvent> {
  close(): Promise<void>;
}

/**
 * Resource writes as they happen, from every instance sharing the store (MongoDB: a change stream). Opening or
 * reading throws {@link WriteFeedUnavailableError} when the deployment cannot provide the feed at all, and
 * {@link WriteFeedHistoryLostError} when it can no longer resume at the given token.
 */
export interface ResourceWriteFeed {
  /**
   * @param types - the resource types of interest
   * @param resumeAfter - the token of the last event handled, to continue after it
   * @returns the open stream
   */
  open(types: readonly string[], resumeAfter?: unknown): ResourceWriteStream;
}

/** The deployment cannot provide a write feed (a standalone server, no privilege to watch). */
export class WriteFeedUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WriteFeedUnavailableError';
  }
}

/** The feed cannot resume at the token given (it fell out of the server's history). */
export class WriteFeedHistoryLostError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WriteFeedHistoryLostError';
  }
}

/** A key's count in its current fixed window. */
export interface WindowCount {
  hits: number;
  /** When the window ends (ms since the epoch). */
  resetAt: number;
}

/**
 * Fixed-window hit counters (rate limits). A window starts with a key's first hit and lasts `windowMs`; a hit after
 * it ended starts a new one. With MongoDB the counters are shared by every instance.
 */
export interface WindowCounters {
  /** Adds one hit (atomically) and returns the key's count. */
  increment(key: string, windowMs: number): Promise<WindowCount>;
  /** The key's count in its live window, if any. */
  get(key: string): Promise<WindowCount | undefined>;
  /** Takes one hit back (a request the limiter decided not to count). */
  decrement(key: string): Promise<void>;
  /** Forgets a key. */
  reset(key: string): Promise<void>;
}

/** An opened storage backend. */
export interface Storage {
  readonly kind: 'embedded' | 'mongo';
  readonly resources: ResourceStore;
  readonly records: RecordStore;
  /**
   * Writes made by every instance sharing the store, for caches to invalidate on (absent when the store belongs to
   * this process alone, as the embedded one does: the process's own writes already invalidate them).
   */
  readonly resourceWrites?: ResourceWriteFeed;
  /** Rate-limit counters shared by every instance (absent: each process keeps its own, in memory). */
  readonly sharedCounters?: WindowCounters;
  /** True when the backend answers (readiness probe). */
  ping(): Promise<boolean>;
  /**
   * Rewrites what is persisted so that values replaced since the store opened are no longer on disk: the embedded
   * store compacts its journal (an append-only file keeps every former value until then); MongoDB replaces
   * documents in place and has nothing to do.
   */
  compact(): Promise<void>;
  /** Flushes pending writes and releases files/connections. */
  close(): Promise<void>;
}

/** The current version is not the one the write expected. */
export class VersionConflictError extends Error {
  constructor(
    readonly key: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`version conflict on ${key}: expected ${expectedVersion}, found ${actualVersion}`);
    this.name = 'VersionConflictError';
  }
}

/** A unique key is already held by another current document. */
export class UniqueConflictError extends Error {
  constructor(readonly uniqueKey: string) {
    super(`unique key already in use: ${uniqueKey}`);
    this.name = 'UniqueConflictError';
  }
}

/**
 * The store cannot take the write now (disk full, I/O error, shutting down). Nothing of the refused write was
 * stored or became visible; the same write may succeed later. The HTTP layer answers 503.
 */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
