import { MemoryWindowCounters } from '../../src/storage/memory-counters';
import { rateLimitCounters } from '../../src/http/rate-limit';
import { rateLimitStoreContract } from './rate-limit-store.contract';

rateLimitStoreContract('in-memory', async () => ({ counters: new MemoryWindowCounters(), shared: false, close: async () => undefined }));

describe('rateLimitCounters', () => {
  it("uses the storage's shared counters when it has them, else new in-memory ones", () => {
    const shared = new MemoryWindowCounters();
    expect(rateLimitCounters({ sharedCounters: shared })).toEqual({ counters: shared, shared: true });
    const local = rateLimitCounters({});
    expect(local.shared).toBe(false);
    expect(local.counters).toBeInstanceOf(MemoryWindowCounters);
  });
});
