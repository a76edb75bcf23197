/**
 * The contract of the rate-limit store over window counters, run against the in-memory counters
 * (test/http/rate-limit-store.test.ts) and against MongoDB when MONGODB_URI is set (test/storage/mongo.contract.test.ts).
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import request from 'supertest';
import { WindowCounterStore } from '../../src/http/rate-limit-store';
import type { WindowCounters } from '../../src/storage/ports';

/** Opens the counters under test; `shared` tells whether other instances see them. */
export type OpenCounters = () => Promise<{ counters: WindowCounters; shared: boolean; close(): Promise<void> }>;

function storeOf(counters: WindowCounters, shared: boolean, windowMs: number): WindowCounterStore {
  const store = new WindowCounterStore(counters, `test:${randomUUID()}:`, shared);
  store.init({ windowMs } as Parameters<WindowCounterStore['init']>[0]);
  return store;
}

/** Resolves once the clock has passed `instant`. */
async function after(instant: Date | undefined): Promise<void> {
  if (!instant) throw new Error('no reset time');
  while (Date.now() <= instant.getTime()) await new Promise((resolve) => setTimeout(resolve, instant.getTime() - Date.now() + 5));
}

/**
 * Registers the contract tests.
 * @param name - the counters' name
 * @param open - opens them
 */
export function rateLimitStoreContract(name: string, open: OpenCounters): void {
  describe(`rate-limit store over ${name} counters`, () => {
    let opened: Awaited<ReturnType<OpenCounters>>;
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(async () => {
      await opened.close();
    });

    it('counts hits per key within one window and reports when it ends', async () => {
      const store = storeOf(opened.counters, opened.shared, 60_000);
      const before = Date.now();
      const first = await store.increment('a');
      expect(first.totalHits).toBe(1);
      expect(first.resetTime?.getTime()).toBeGreaterThanOrEqual(before + 60_000);
      expect(first.resetTime?.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
      const second = await store.increment('a');
      expect(second).toEqual({ totalHits: 2, resetTime: first.resetTime });
      expect(await store.get('a')).toEqual(second);
      expect((await store.increment('b')).totalHits).toBe(1);
      expect(await store.get('never')).toBeUndefined();
    });

    it('takes a hit back on decrement and forgets a key on resetKey', async () => {
      const store = storeOf(opened.counters, opened.shared, 60_000);
      await store.increment('a');
      await store.increment('a');
      await store.decrement('a');
      expect((await store.get('a'))?.totalHits).toBe(1);
      await store.resetKey('a');
      expect(await store.get('a')).toBeUndefined();
      expect((await store.increment('a')).totalHits).toBe(1);
      await store.decrement('never');
      expect(await store.get('never')).toBeUndefined();
    });

    it('keeps the keys of stores with different prefixes apart', async () => {
      const one = storeOf(opened.counters, opened.shared, 60_000);
      const two = storeOf(opened.counters, opened.shared, 60_000);
      await one.increment('a');
      expect(await two.get('a')).toBeUndefined();
    });

    it('starts a new window once the last one has ended', async () => {
      const store = storeOf(opened.counters, opened.shared, 300);
      await store.increment('a');
      const { resetTime } = await store.increment('a');
      await after(resetTime);
      expect(await store.get('a')).toBeUndefined();
      const fresh = await store.increment('a');
      expect(fresh.totalHits).toBe(1);
      expect(fresh.resetTime?.getTime()).toBeGreaterThan(resetTime?.getTime() ?? 0);
    });

    it('counts concurrent hits exactly once each', async () => {
      const store = storeOf(opened.counters, opened.shared, 60_000);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.increment('burst')));
      expect(results.map((r) => r.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('lets express-rate-limit refuse the request over the limit', async () => {
      const app = express();
      app.use(rateLimit({ windowMs: 60_000, limit: 2, store: new WindowCounterStore(opened.counters, `app:${randomUUID()}:`, opened.shared), standardHeaders: 'draft-8', legacyHeaders: false }));
      app.get('/', (_req, res) => {
        res.send('ok');
      });
      await request(app).get('/').expect(200);
      await request(app).get('/').expect(200);
      const refused = await request(app).get('/').expect(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    });
  });
}
