/**
 * RecordStore of the embedded adapter: records in memory per kind, changes journaled.
 *
 * Expired records are never returned; they are removed from memory when met (and by a periodic sweep) without
 * a journal entry, and dropped from the journal at the next compaction. `consume` is atomic because the read
 * and the removal happen in one synchronous step.
 */
import { Query } from 'mingo';
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
    const query = checked && Object.keys(checked).length > 0 ? new Query(checked, { scriptEnabled: false }) : undefined;
    const out: StoredRecord[] = [];
    for (const entry of byKey.values()) {
      if (entry.expiresMs <= now) continue;
      if (!query || query.test(entry.record.value)) out.push(entry.record);
    }
    return out;
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

/** The embedded RecordStore. */
export class EmbeddedRecordStore implements RecordStore {
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
      const record = this.table.live(kind, key, Date.now());
      if (!record) return Promise.resolve(undefined);
      this.table.remove(kind, key);
      // A copy: the record may have been handed out frozen by a shared read.
      return this.journal.append({ t: 'record-delete', kind, keys: [key] }).then(() => cloneJson(record));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc RecordStore.delete} */
  delete(kind: string, key: string): Promise<void> {
    try {
      this.journal.assertWritable();
      if (!this.table.remove(kind, key)) return Promise.resolve();
      return this.journal.append({ t: 'record-delete', kind, keys: [key] });
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
      const keys = this.table.matching(kind, filter, Date.now()).map((record) => record.key);
      if (keys.length === 0) return Promise.resolve(0);
      for (const key of keys) this.table.remove(kind, key);
      return this.journal.append({ t: 'record-delete', kind, keys }).then(() => keys.length);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Validates, applies in memory and journals a record; resolves after the fsync. */
  private store(record: StoredRecord): Promise<void> {
    this.journal.assertWritable();
    checkRecord(record);
    const { kind, key, value, expiresAt } = record;
    const { text, copy } = toStoredJson<StoredRecord>(
      expiresAt === undefined ? { kind, key, value } : { kind, key, value, expiresAt },
    );
    this.table.apply({ t: 'record-put', record: copy });
    return this.journal.appendSerialized(`{"t":"record-put","record":${text}}`);
  }
}
