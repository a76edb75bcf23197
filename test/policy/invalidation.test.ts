/**
 * Cross-instance invalidation: two policy caches over one store stand for two instances sharing MongoDB. Instance A
 * writes through the repository (its own cache is invalidated by the write); instance B learns of it only from the
 * write feed. The feed is the one stand-in here: an in-memory source of the events MongoDB's change stream would
 * deliver. The cache, the store and the invalidation loop are the real ones.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { PolicyCache } from '../../src/policy/cache';
import { CacheInvalidation, FALLBACK_MAX_AGE_MS } from '../../src/policy/invalidation';
import { openStorage } from '../../src/storage/open';
import {
  WriteFeedHistoryLostError,
  WriteFeedUnavailableError,
  type ResourceWriteEvent,
  type ResourceWriteFeed,
  type ResourceWriteStream,
  type Storage,
} from '../../src/storage/ports';

const PROJECT = 'inv/p';
const TARGET = 'ClientApplication/app';

/** An in-memory write feed: the test pushes events or failures; every `open` is recorded. */
class MemoryWriteFeed implements ResourceWriteFeed {
  readonly opens: Array<{ types: readonly string[]; resumeAfter: unknown }> = [];
  private current?: MemoryStream;
  private waiting: Array<() => void> = [];

  open(types: readonly string[], resumeAfter?: unknown): ResourceWriteStream {
    this.opens.push({ types, resumeAfter });
    this.current = new MemoryStream();
    for (const resolve of this.waiting.splice(0)) resolve();
    return this.current;
  }

  /** Resolves once the feed has been opened `count` times. */
  async opened(count: number): Promise<void> {
    while (this.opens.length < count) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  push(event: ResourceWriteEvent): Promise<void> {
    return this.stream().push({ event });
  }

  fail(error: unknown): Promise<void> {
    return this.stream().push({ error });
  }

  private stream(): MemoryStream {
    if (!this.current) throw new Error('the feed is not open');
    return this.current;
  }
}

type Item = { event?: ResourceWriteEvent; error?: unknown };

/** A stream whose `push` resolves once the consumer has handled the item (asked for the next one). */
class MemoryStream implements ResourceWriteStream {
  private readonly items: Array<Item & { handled: () => void }> = [];
  private pull?: () => void;
  private closed = false;
  private lastHandled?: () => void;

  push(item: Item): Promise<void> {
    return new Promise((handled) => {
      if (this.closed) return handled();
      this.items.push({ ...item, handled });
      this.pull?.();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pull?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ResourceWriteEvent> {
    for (;;) {
      this.lastHandled?.();
      this.lastHandled = undefined;
      while (this.items.length === 0 && !this.closed) await new Promise<void>((resolve) => (this.pull = resolve));
      const item = this.items.shift();
      if (!item) return;
      if (item.error !== undefined) {
        item.handled();
        throw item.error;
      }
      this.lastHandled = item.handled;
      yield item.event as ResourceWriteEvent;
    }
  }
}

function policy(id: string, name: string) {
  return { resourceType: 'AccessPolicy', id, name, engine: 'full-access', target: [{ link: { reference: TARGET } }] };
}

const names = async (cache: PolicyCache): Promise<string[]> => (await cache.policiesFor(PROJECT, TARGET)).map((p) => p.id);

let dir: string;
let storage: Storage;
let repo: FhirRepository;
let cacheB: PolicyCache;
let feed: MemoryWriteFeed;
let warnings: Array<{ obj: object; msg: string }>;
let invalidation: CacheInvalidation;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'policy-invalidation-'));
  storage = await openStorage({ dataDir: dir });
  repo = new FhirRepository(storage.resources, PROJECT);
  await repo.update('AccessPolicy', 'ap1', policy('ap1', 'first'));
  cacheB = new PolicyCache(storage.resources);
  feed = new MemoryWriteFeed();
  warnings = [];
  const logger = { info: () => undefined, warn: (obj: object, msg: string) => warnings.push({ obj, msg }) };
  invalidation = new CacheInvalidation(cacheB, feed, { logger, retryDelayMs: 1 }).start();
  await feed.opened(1);
});
afterEach(async () => {
  await invalidation.stop();
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

describe('cache invalidation across instances', () => {
  it('follows writes of the auth resource types only', () => {
    expect(feed.opens).toEqual([{ types: ['AccessPolicy', 'Membership', 'User', 'ClientApplication', 'Project', 'ProjectSettings'], resumeAfter: undefined }]);
  });

  it("applies another instance's policy write on the next lookup once the feed reports it", async () => {
    expect(await names(cacheB)).toEqual(['ap1']);
    await repo.update('AccessPolicy', 'ap2', policy('ap2', 'second'));
    // Without an event instance B still serves what it cached.
    expect(await names(cacheB)).toEqual(['ap1']);
    await feed.push({ project: PROJECT, type: 'AccessPolicy', resumeToken: 't1' });
    expect(await names(cacheB)).toEqual(['ap1', 'ap2']);
    expect(invalidation.stats.events).toBe(1);
  });

  it('invalidates only the project the event names', async () => {
    expect(await names(cacheB)).toEqual(['ap1']);
    await repo.update('AccessPolicy', 'ap2', policy('ap2', 'second'));
    await feed.push({ project: 'other/project', type: 'AccessPolicy', resumeToken: 't1' });
    expect(await names(cacheB)).toEqual(['ap1']);
  });

  it('invalidates everything after a failure and resumes after the last event handled', async () => {
    await feed.push({ project: 'other/project', type: 'User', resumeToken: 't1' });
    expect(await names(cacheB)).toEqual(['ap1']);
    await repo.update('AccessPolicy', 'ap2', policy('ap2', 'second'));
    await feed.fail(Object.assign(new Error('connection reset'), { code: 6 }));
    await feed.opened(2);
    // A write made while the feed was down has no event: the failure itself invalidated the cache.
    expect(await names(cacheB)).toEqual(['ap1', 'ap2']);
    expect(feed.opens[1]).toEqual({ types: feed.opens[0]?.types, resumeAfter: 't1' });
    expect(warnings.map((w) => w.msg)).toEqual(['policy cache: write feed broken; every project invalidated, resuming']);
    // The resumed feed delivers again.
    await repo.update('AccessPolicy', 'ap3', policy('ap3', 'third'));
    await feed.push({ project: PROJECT, type: 'AccessPolicy', resumeToken: 't2' });
    expect(await names(cacheB)).toEqual(['ap1', 'ap2', 'ap3']);
  });

  it('starts afresh when the feed can no longer resume at its token', async () => {
    await feed.push({ project: PROJECT, type: 'User', resumeToken: 't1' });
    await feed.fail(new WriteFeedHistoryLostError('resume token not in the oplog'));
    await feed.opened(2);
    expect(feed.opens[1]?.resumeAfter).toBeUndefined();
  });

  it('falls back to the maximum age, warning once, when the deployment has no change streams', async () => {
    expect(await names(cacheB)).toEqual(['ap1']);
    await feed.fail(new WriteFeedUnavailableError('change streams unavailable: standalone server'));
    await invalidation.ended();
    expect(invalidation.stats.fallback).toBe(true);
    expect(feed.opens).toHaveLength(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/change streams unavailable/);
    expect(await names(cacheB)).toEqual(['ap1']);
    await repo.update('AccessPolicy', 'ap2', policy('ap2', 'second'));
    expect(await names(cacheB)).toEqual(['ap1']);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + FALLBACK_MAX_AGE_MS + 1);
    try {
      expect(await names(cacheB)).toEqual(['ap1', 'ap2']);
    } finally {
      clock.mockRestore();
    }
  });

  it('stops following the feed on stop()', async () => {
    await invalidation.stop();
    await expect(feed.push({ project: PROJECT, type: 'AccessPolicy', resumeToken: 't9' })).resolves.toBeUndefined();
    expect(invalidation.stats.events).toBe(0);
  });
});
