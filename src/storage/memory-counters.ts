/**
 * Fixed-window counters kept in this process's memory: the rate-limit counters of a single instance (the embedded
 * store, or tests). At most {@link MAX_KEYS} keys are tracked: ended windows are swept first, then the oldest keys
 * are dropped.
 */
import type { WindowCount, WindowCounters } from './ports';

const MAX_KEYS = 100_000;

/** In-memory {@link WindowCounters}. */
export class MemoryWindowCounters implements WindowCounters {
  private readonly counts = new Map<string, WindowCount>();

  /** @param now - clock in milliseconds (tests may pass their own) */
  constructor(private readonly now: () => number = Date.now) {}

  /** {@inheritDoc WindowCounters.increment} */
  async increment(key: string, windowMs: number): Promise<WindowCount> {
    const now = this.now();
    const live = this.live(key, now);
    if (live) {
      live.hits += 1;
      return { ...live };
    }
    if (this.counts.size >= MAX_KEYS) this.evict(now);
    const count = { hits: 1, resetAt: now + windowMs };
    this.counts.set(key, count);
    return { ...count };
  }

  /** {@inheritDoc WindowCounters.get} */
  async get(key: string): Promise<WindowCount | undefined> {
    const live = this.live(key, this.now());
    return live && { ...live };
  }

  /** {@inheritDoc WindowCounters.decrement} */
  async decrement(key: string): Promise<void> {
    const live = this.live(key, this.now());
    if (live && live.hits > 0) live.hits -= 1;
  }

  /** {@inheritDoc WindowCounters.reset} */
  async reset(key: string): Promise<void> {
    this.counts.delete(key);
  }

  private live(key: string, now: number): WindowCount | undefined {
    const count = this.counts.get(key);
    if (count && count.resetAt <= now) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }

  private evict(now: number): void {
    for (const [key, count] of this.counts) if (count.resetAt <= now) this.counts.delete(key);
    // Maps iterate in insertion order: drop the oldest tenth when sweeping freed too little.
    if (this.counts.size >= MAX_KEYS) {
      let drop = Math.ceil(MAX_KEYS / 10);
      for (const key of this.counts.keys()) {
        if (drop-- <= 0) break;
        this.counts.delete(key);
      }
    }
  }
}
