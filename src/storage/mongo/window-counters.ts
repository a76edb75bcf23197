/**
 * Fixed-window counters in the `rate_limits` collection, shared by every instance: one document per key,
 * `{ _id: key, hits, resetAt }`. A hit is one atomic findOneAndUpdate (an update pipeline: a new window when the
 * last one has ended, else one more hit), upserting the first; the TTL index on `resetAt` removes ended windows.
 * Reads check `resetAt` themselves, since the TTL monitor runs only about once a minute.
 */
import type { Collection } from 'mongodb';
import type { WindowCount, WindowCounters } from '../ports';
import { duplicateKeyInfo } from './errors';

/** A counter as stored. */
export interface CounterDocument {
  _id: string;
  hits: number;
  resetAt: Date;
}

function toCount(doc: CounterDocument): WindowCount {
  return { hits: doc.hits, resetAt: doc.resetAt.getTime() };
}

/**
 * The update pipeline of one hit at `now`.
 * @param now - the current time
 * @param windowMs - the window length
 * @returns the pipeline
 */
export function incrementPipeline(now: Date, windowMs: number): Array<Record<string, unknown>> {
  const live = { $gt: ['$resetAt', now] };
  return [{ $set: { hits: { $cond: [live, { $add: ['$hits', 1] }, 1] }, resetAt: { $cond: [live, '$resetAt', new Date(now.getTime() + windowMs)] } } }];
}

/** Mongo {@link WindowCounters}. */
export class MongoWindowCounters implements WindowCounters {
  /** @param counters - the `rate_limits` collection */
  constructor(private readonly counters: Collection<CounterDocument>) {}

  /** {@inheritDoc WindowCounters.increment} */
  async increment(key: string, windowMs: number): Promise<WindowCount> {
    for (let attempt = 0; ; attempt++) {
      try {
        const doc = await this.counters.findOneAndUpdate({ _id: key }, incrementPipeline(new Date(), windowMs), { upsert: true, returnDocument: 'after' });
        if (!doc) throw new Error(`rate-limit counter ${key} was not returned`);
        return toCount(doc);
      } catch (err) {
        // Two first hits racing to insert the same key: the loser retries as an update.
        if (attempt > 0 || !duplicateKeyInfo(err)) throw err;
      }
    }
  }

  /** {@inheritDoc WindowCounters.get} */
  async get(key: string): Promise<WindowCount | undefined> {
    const doc = await this.counters.findOne({ _id: key, resetAt: { $gt: new Date() } });
    return doc ? toCount(doc) : undefined;
  }

  /** {@inheritDoc WindowCounters.decrement} */
  async decrement(key: string): Promise<void> {
    await this.counters.updateOne({ _id: key, resetAt: { $gt: new Date() }, hits: { $gt: 0 } }, { $inc: { hits: -1 } });
  }

  /** {@inheritDoc WindowCounters.reset} */
  async reset(key: string): Promise<void> {
    await this.counters.deleteOne({ _id: key });
  }
}
