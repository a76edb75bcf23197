/**
 * The express-rate-limit store of the OAuth endpoints' limiters, over the storage's window counters: with
 * MongoDB the counters are shared by every instance, so a limit holds behind a load balancer; otherwise they live
 * in this process (docs/mongodb.md "Shared rate limits").
 */
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { WindowCount, WindowCounters } from '../storage/ports';

function toInfo(count: WindowCount): ClientRateLimitInfo {
  return { totalHits: count.hits, resetTime: new Date(count.resetAt) };
}

/** An express-rate-limit {@link Store} over {@link WindowCounters}. */
export class WindowCounterStore implements Store {
  /** Taken from the limiter's options in {@link init}. */
  private windowMs = 60_000;
  readonly localKeys: boolean;

  /**
   * @param counters - the counters
   * @param prefix - keeps this limiter's keys apart from other limiters' (`oauth:token:`)
   * @param shared - whether other instances see the same counters
   */
  constructor(
    private readonly counters: WindowCounters,
    readonly prefix: string,
    shared: boolean,
  ) {
    this.localKeys = !shared;
  }

  /** {@inheritDoc Store.init} */
  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  /** {@inheritDoc Store.get} */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const count = await this.counters.get(this.prefix + key);
    return count && toInfo(count);
  }

  /** {@inheritDoc Store.increment} */
  async increment(key: string): Promise<ClientRateLimitInfo> {
    return toInfo(await this.counters.increment(this.prefix + key, this.windowMs));
  }

  /** {@inheritDoc Store.decrement} */
  async decrement(key: string): Promise<void> {
    await this.counters.decrement(this.prefix + key);
  }

  /** {@inheritDoc Store.resetKey} */
  async resetKey(key: string): Promise<void> {
    await this.counters.reset(this.prefix + key);
  }
}
