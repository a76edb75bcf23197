/**
 * RecordStore of the embedded adapter: records in memory per kind, changes journaled.
 *
 * A change is applied to memory only once its journal line is durable, so reads never see a change that a
 * failed write or a crash could take back. Changes that depend on a record's current state (`insert`, `consume`,
 * `delete`, `deleteMany`) check it and register themselves as in flight in one synchronous step; one meeting a
 * key another change still has in flight waits for it to settle and checks again. So `consume` stays atomic (of
 * two concurrent calls at most one gets the record) and `insert` never admits two holders of a key. `put` needs
 * no check: it is ordered by the journal.
 *
 * Expired records are never returned; they are removed from memory when met (and by a periodic sweep) without
 * a journal entry, and dropped from the journal at the next compaction.
 */
import { type MongoQuery, mongoQuery } from '../mongo-query';
import type { Filter, RecordStore, StoredRecord } from '../ports';
import { checkRecord, prefixRecordFilter } from '../store-rules';
import { deepFreeze } from '../freeze';
import { cloneJson, toStoredJson } from './clone';
import type { Journal, JournalEntry } from './journal';

interface Entry {
  record: StoredRecord;
  expiresMs: number;
}

/** The records of every kind, with their expiry. */
export class RecordTable {
  private readonly kinds = new Map<string, Map<string, Entry>>();

  /**
   * Applies a journaled record change (live writes and replay).
   *
   * @param entry - a record-put or record-delete entry
   */
  apply(entry: Extract<JournalEntry, { t: 'record-put' | 'record-delete' }>): void {
    if (entry.t === 'record-put') {
      const record = entry.record;
      let byKey = this.kinds.get(record.kind);
      if (!byKey) {
        byKey = new Map();
        this.kinds.set(record.kind, byKey);
      }
      const expiresMs = record.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(record.expiresAt);
      byKey.set(record.key, { record, expiresMs });
    } else {
      for (const key of entry.keys) this.remove(entry.kind, key);
    }
  }

  /**
   * The live record (shared object), removing it if it has expired.
   *
   * @param kind - record kind
   * @param key - record key
   * @param now - current time in epoch ms
   */
  live(kind: string, key: string, now: number): StoredRecord | undefined {
    const entry = this.kinds.get(kind)?.get(key);
    if (!entry) return undefined;
    if (entry.expiresMs <= now) {
      this.remove(kind, key);
      return undefined;
    }
    return entry.record;
  }

  /**
   * Live records of a kind whose value matches a filter (shared objects).
   *
   * @param kind - record kind
   * @param filter - a MongoDB filter over `value`, or undefined for all
   * @param now - current time in epoch ms
   */
  matching(kind: string, filter: Filter | undefined, now: number): StoredRecord[] {
    const checked = filter && prefixRecordFilter(filter, '');
    const byKey = this.kinds.get(kind);
    if (!byKey) return [];
    const query = checked && Object.keys(checked).length > 0 ? mongoQuery(checked) : undefined;
    const out: StoredRecord[] = [];
    for (const entry of byKey.values()) {
      if (entry.expiresMs <= now) continue;
      if (!query || query.test(entry.record.value)) out.push(entry.record);
    }
    return out;
  }

  /**
   * Whether a live record's value matches a filter.
   *
   * @param record - the record
   * @param filter - a MongoDB filter over `value`
   * @param now - current time in epoch ms
   */
  matches(record: StoredRecord, filter: Filter, now: number): boolean {
    if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= now) return false;
    const checked = prefixRecordFilter(filter, '');
    return Object.keys(checked).length === 0 || mongoQuery(checked).test(record.value);
  }

  /**
   * Removes a record from memory.
   *
   * @returns true when it was present
   */
  remove(kind: string, key: string): boolean {
    const byKey = this.kinds.get(kind);
    if (!byKey?.delete(key)) return false;
    if (byKey.size === 0) this.kinds.delete(kind);
    return true;
  }

  /**
   * Drops expired records from memory.
   *
   * @param now - current time in epoch ms
   * @returns how many were dropped
   */
  sweep(now: number): number {
    let n = 0;
    for (const [kind, byKey] of this.kinds) {
      for (const [key, entry] of byKey) {
        if (entry.expiresMs <= now) {
          byKey.delete(key);
          n++;
        }
      }
      if (byKey.size === 0) this.kinds.delete(kind);
    }
    return n;
  }

  /**
   * Live records as journal entries, for compaction (expired ones are left out).
   *
   * @param now - current time in epoch ms
   */
  *snapshot(now: number): Iterable<JournalEntry> {
    for (const byKey of this.kinds.values()) {
      for (const entry of byKey.values()) {
        if (entry.expiresMs > now) yield { t: 'record-put', record: entry.record };
      }
    }
  }
}

/** A record change not yet durable. */
interface InFlight {
  settled: Promise<void>;
  /** The record it writes, or undefined for a deletion. */
  record: StoredRecord | undefined;
}

/** The embedded RecordStore. */
export class EmbeddedRecordStore implements RecordStore {
  /** `${kind}\0${key}` → the latest change of that record not yet durable. */
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly table: RecordTable,
    private readonly journal: Journal,
  ) {}

  /** {@inheritDoc RecordStore.get} */
  async get(kind: string, key: string, options: { shared?: boolean } = {}): Promise<StoredRecord | undefined> {
    const record = this.table.live(kind, key, Date.now());
    if (!record) return undefined;
    // Stored records are replaced on every write, never changed in place, so freezing one loses nothing.
    return options.shared ? deepFreeze(record) : cloneJson(record);
  }

  /** {@inheritDoc RecordStore.put} */
  put(record: StoredRecord): Promise<void> {
    try {
      this.journal.assertWritable();
      checkRecord(record);
      return this.store(record);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc RecordStore.insert} */
  insert(record: StoredRecord): Promise<boolean> {
    try {
      this.journal.assertWritable();
      checkRecord(record);
      const busy = this.inFlight.get(slot(record.kind, record.key));
      if (busy) return busy.settled.then(() => this.insert(record));
      if (this.table.live(record.kind, record.key, Date.now())) return Promise.resolve(false);
      return this.store(record).then(() => true);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc RecordStore.consume} */
  consume(kind: string, key: string): Promise<StoredRecord | undefined> {
    try {
      this.journal.assertWritable();
      const busy = this.inFlight.get(slot(kind, key));
      if (busy) return busy.settled.then(() => this.consume(kind, key));
      const record = this.table.live(kind, key, Date.now());
      if (!record) return Promise.resolve(undefined);
      // A copy: the record may have been handed out frozen by a shared read.
      return this.remove(kind, [key]).then(() => cloneJson(record));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc RecordStore.delete} */
  delete(kind: string, key: string): Promise<void> {
    try {
      this.journal.assertWritable();
      const busy = this.inFlight.get(slot(kind, key));
      if (busy) return busy.settled.then(() => this.delete(kind, key));
      if (!this.table.live(kind, key, Date.now())) return Promise.resolve();
      return this.remove(kind, [key]);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc RecordStore.find} */
  async find(kind: string, filter?: Filter): Promise<StoredRecord[]> {
    return this.table.matching(kind, filter, Date.now()).map((record) => cloneJson(record));
  }

  /** {@inheritDoc RecordStore.deleteMany} */
  deleteMany(kind: string, filter: Filter): Promise<number> {
    try {
      this.journal.assertWritable();
      const now = Date.now();
      const keys = this.table.matching(kind, filter, now).map((record) => record.key);
      const matched = new Set(keys);
      // Changes in flight on a matching record, or writing a record that will match, must settle first.
      const pendingMatches = this.inFlightOf(kind).filter(
        ([key, change]) => matched.has(key) || (change.record !== undefined && this.table.matches(change.record, filter, now)),
      );
      if (pendingMatches.length > 0) {
        return Promise.all(pendingMatches.map(([, change]) => change.settled)).then(() => this.deleteMany(kind, filter));
      }
      if (keys.length === 0) return Promise.resolve(0);
      return this.remove(kind, keys).then(() => keys.length);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Journals a record (already checked) and applies it after the fdatasync. */
  private store(record: StoredRecord): Promise<void> {
    const { kind, key, value, expiresAt } = record;
    const { text, copy } = toStoredJson<StoredRecord>(
      expiresAt === undefined ? { kind, key, value } : { kind, key, value, expiresAt },
    );
    const entry = { t: 'record-put', record: copy } as const;
    const durable = this.journal.appendSerialized(`{"t":"record-put","record":${text}}`, () => this.table.apply(entry));
    this.track(kind, [key], durable, copy);
    return durable;
  }

  /** Journals the removal of records and applies it after the fdatasync. */
  private remove(kind: string, keys: string[]): Promise<void> {
    const entry = { t: 'record-delete', kind, keys } as const;
    const durable = this.journal.append(entry, () => this.table.apply(entry));
    this.track(kind, keys, durable, undefined);
    return durable;
  }

  private track(kind: string, keys: string[], durable: Promise<void>, record: StoredRecord | undefined): void {
    const release = (): void => {
      for (const key of keys) if (this.inFlight.get(slot(kind, key))?.settled === settled) this.inFlight.delete(slot(kind, key));
    };
    const settled: Promise<void> = durable.then(release, release);
    for (const key of keys) this.inFlight.set(slot(kind, key), { settled, record });
  }

  private inFlightOf(kind: string): Array<[string, InFlight]> {
    if (this.inFlight.size === 0) return [];
    const prefix = `${kind}\u0000`;
    const out: Array<[string, InFlight]> = [];
    for (const [name, change] of this.inFlight) if (name.startsWith(prefix)) out.push([name.slice(prefix.length), change]);
    return out;
  }
}

function slot(kind: string, key: string): string {
  return `${kind}\u0000${key}`;
}
