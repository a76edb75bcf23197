/**
 * Cross-instance invalidation of the policy cache (docs/mongodb.md "Cache invalidation across instances").
 *
 * Each instance invalidates its own cache when it writes an AccessPolicy, Membership, User, ClientApplication,
 * Project or ProjectSettings (cache.ts, POLICY_RESOURCE_TYPES). Writes made by other instances sharing MongoDB arrive through the store's write feed (a change
 * stream on the resources collection, filtered to those types): each event invalidates the event's project.
 * - The feed resumes after the last event handled when it breaks (the driver already retries transient errors
 *   itself; what reaches here is not transient). Since writes may have been missed while it was down, every project
 *   is invalidated before it resumes. Retries wait `retryDelayMs`, doubling up to 30 s.
 * - When the feed can no longer resume at its token (history lost), it starts afresh, also invalidating everything.
 * - When the deployment cannot provide a feed at all, a warning is logged once and the cache falls back to a
 *   maximum age ({@link FALLBACK_MAX_AGE_MS}): other instances' writes then take effect within that time.
 */
import type { ResourceWriteFeed, ResourceWriteStream } from '../storage/ports';
import { WriteFeedHistoryLostError, WriteFeedUnavailableError } from '../storage/ports';
import { POLICY_RESOURCE_TYPES, type PolicyCache } from './cache';

/** The cache's maximum age when writes of other instances cannot be observed. */
export const FALLBACK_MAX_AGE_MS = 30_000;
const MAX_RETRY_DELAY_MS = 30_000;

/** Where the invalidation reports what it does. */
export interface InvalidationLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options of {@link CacheInvalidation}. */
export interface CacheInvalidationOptions {
  logger: InvalidationLogger;
  /** First wait before reopening a broken feed (doubles on each failure in a row). */
  retryDelayMs?: number;
}

/** Keeps one policy cache in step with the writes of every instance. */
export class CacheInvalidation {
  private stopped = false;
  private stream?: ResourceWriteStream;
  private wake?: () => void;
  private resumeToken: unknown;
  private running?: Promise<void>;
  /** What happened so far (observability and tests). */
  readonly stats = { events: 0, failures: 0, fallback: false };

  /**
   * @param cache - the cache to invalidate
   * @param feed - the store's write feed
   * @param options - logger and retry delay
   */
  constructor(
    private readonly cache: PolicyCache,
    private readonly feed: ResourceWriteFeed,
    private readonly options: CacheInvalidationOptions,
  ) {}

  /**
   * Starts following the feed in the background.
   * @returns this
   */
  start(): this {
    this.running ??= this.run();
    return this;
  }

  /**
   * Resolves once the loop has ended: after {@link stop}, or after falling back to the maximum age.
   * @returns the loop's end
   */
  ended(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Stops following the feed and waits for the loop to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.stream?.close().catch(() => undefined);
    await this.running;
  }

  private async run(): Promise<void> {
    const types = [...POLICY_RESOURCE_TYPES];
    let delay = this.options.retryDelayMs ?? 1000;
    while (!this.stopped) {
      try {
        this.stream = this.feed.open(types, this.resumeToken);
        for await (const event of this.stream) {
          this.stats.events++;
          this.resumeToken = event.resumeToken;
          this.cache.invalidate(event.project);
          delay = this.options.retryDelayMs ?? 1000;
        }
        if (this.stopped) return;
        throw new Error('the write feed ended');
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof WriteFeedUnavailableError) {
          this.fallBack(err);
          return;
        }
        this.stats.failures++;
        if (err instanceof WriteFeedHistoryLostError) this.resumeToken = undefined;
        this.options.logger.warn({ err, retryInMs: delay }, 'policy cache: write feed broken; every project invalidated, resuming');
        // Writes may have been missed while the feed was down.
        this.cache.invalidate();
        await this.pause(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      } finally {
        await this.stream?.close().catch(() => undefined);
        this.stream = undefined;
      }
    }
  }

  private fallBack(err: WriteFeedUnavailableError): void {
    this.stats.fallback = true;
    this.cache.setMaxAge(FALLBACK_MAX_AGE_MS);
    this.cache.invalidate();
    this.options.logger.warn(
      { err: err.message, maxAgeMs: FALLBACK_MAX_AGE_MS },
      'policy cache: the store cannot report writes of other instances (change streams unavailable); cached policies, clients and users are reloaded after the maximum age instead',
    );
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
