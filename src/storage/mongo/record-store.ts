/**
 * RecordStore of the Mongo adapter, collection `records`: one document per (kind, key) with the value as a
 * sub-document. `expiresAt` (ISO text, as given) is mirrored in `expireAt` (a Date) for the TTL index; since
 * MongoDB removes expired documents only periodically, every read also filters on `expireAt`.
 */
import type { Collection, Filter as MongoFilter } from 'mongodb';
import type { Filter, RecordStore, StoredRecord } from '../ports';
import { checkRecord, prefixRecordFilter } from '../store-rules';
import { duplicateKeyInfo } from './errors';

/** A record as stored in MongoDB. */
export interface RecordDocument {
  kind: string;
  key: string;
  value: Record<string, unknown>;
  expiresAt?: string;
  /** TTL field. */
  expireAt?: Date;
}

function toDocument(record: StoredRecord, expiresMs: number): RecordDocument {
  const doc: RecordDocument = { kind: record.kind, key: record.key, value: record.value };
  if (record.expiresAt !== undefined) {
    doc.expiresAt = record.expiresAt;
    doc.expireAt = new Date(expiresMs);
  }
  return doc;
}

function toRecord(doc: RecordDocument): StoredRecord {
  const record: StoredRecord = { kind: doc.kind, key: doc.key, value: doc.value };
  if (doc.expiresAt !== undefined) record.expiresAt = doc.expiresAt;
  return record;
}

function isLive(doc: RecordDocument, now: number): boolean {
  return doc.expireAt === undefined || doc.expireAt.getTime() > now;
}

function liveFilter(now: Date): MongoFilter<RecordDocument> {
  return { $or: [{ expireAt: { $exists: false } }, { expireAt: { $gt: now } }] };
}

/** The Mongo RecordStore. */
export class MongoRecordStore implements RecordStore {
  constructor(private readonly records: Collection<RecordDocument>) {}

  /** {@inheritDoc RecordStore.get} */
  async get(kind: string, key: string): Promise<StoredRecord | undefined> {
    const doc = await this.records.findOne({ kind, key }, { projection: { _id: 0 } });
    return doc && isLive(doc, Date.now()) ? toRecord(doc) : undefined;
  }

  /** {@inheritDoc RecordStore.put} */
  async put(record: StoredRecord): Promise<void> {
    const doc = toDocument(record, checkRecord(record));
    await this.records.replaceOne({ kind: record.kind, key: record.key }, doc, { upsert: true });
  }

  /** {@inheritDoc RecordStore.insert} */
  async insert(record: StoredRecord): Promise<boolean> {
    const doc = toDocument(record, checkRecord(record));
    try {
      await this.records.insertOne({ ...doc });
      return true;
    } catch (err) {
      if (!duplicateKeyInfo(err)) throw err;
    }
    // The key is taken, possibly by an expired record the TTL monitor has not removed yet: take its place.
    const replaced = await this.records.replaceOne(
      { kind: record.kind, key: record.key, expireAt: { $lte: new Date() } },
      doc,
    );
    return replaced.matchedCount === 1;
  }

  /** {@inheritDoc RecordStore.consume} */
  async consume(kind: string, key: string): Promise<StoredRecord | undefined> {
    const doc = await this.records.findOneAndDelete({ kind, key }, { projection: { _id: 0 } });
    return doc && isLive(doc, Date.now()) ? toRecord(doc) : undefined;
  }

  /** {@inheritDoc RecordStore.delete} */
  async delete(kind: string, key: string): Promise<void> {
    await this.records.deleteOne({ kind, key });
  }

  /** {@inheritDoc RecordStore.find} */
  async find(kind: string, filter?: Filter): Promise<StoredRecord[]> {
    const docs = await this.records
      .find(this.matching(kind, filter ?? {}), { projection: { _id: 0 } })
      .sort([['_id', 1]])
      .toArray();
    return docs.map(toRecord);
  }

  /** {@inheritDoc RecordStore.deleteMany} */
  async deleteMany(kind: string, filter: Filter): Promise<number> {
    return (await this.records.deleteMany(this.matching(kind, filter))).deletedCount;
  }

  private matching(kind: string, filter: Filter): MongoFilter<RecordDocument> {
    return {
      kind,
      $and: [prefixRecordFilter(filter, 'value.') as MongoFilter<RecordDocument>, liveFilter(new Date())],
    };
  }
}
