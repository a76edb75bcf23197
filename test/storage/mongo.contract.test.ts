/**
 * Runs the storage contract suites against MongoDB when MONGODB_URI is set (a replica set: transactions are
 * required), in a database unique to this run that is dropped afterwards. Without MONGODB_URI the suite is
 * reported as skipped.
 *
 *   MONGODB_URI='mongodb://localhost:27017/?replicaSet=rs0' npx jest test/storage/mongo.contract.test.ts
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { openMongoStorage } from '../../src/storage/mongo';
import { recordStoreContract } from './record-store.contract';
import { resourceStoreContract } from './resource-store.contract';
import { signingKeysAtRestContract } from './signing-keys-at-rest.contract';
import { rateLimitStoreContract } from '../http/rate-limit-store.contract';

const uri = process.env.MONGODB_URI;

if (!uri) {
  console.log('mongo storage contract skipped: MONGODB_URI is not set');
  test.skip('mongo storage contract (needs MONGODB_URI)', () => undefined);
} else {
  const dbName = `fhir_contract_${Date.now()}_${randomUUID().slice(0, 8)}`;
  const open = (): ReturnType<typeof openMongoStorage> => openMongoStorage({ uri, dbName });

  afterAll(async () => {
    const client = new MongoClient(uri);
    try {
      await client.connect();
      await client.db(dbName).dropDatabase();
    } finally {
      await client.close();
    }
  });

  describe('mongo write feed', () => {
    it('reports a resource write of a watched type made through another client', async () => {
      const storage = await open();
      const other = await open();
      const stream = storage.resourceWrites?.open(['AccessPolicy']);
      try {
        if (!stream) throw new Error('the Mongo storage has no write feed');
        const iterator = stream[Symbol.asyncIterator]();
        const next = iterator.next();
        const project = `feed-${randomUUID().slice(0, 8)}`;
        let received: IteratorResult<unknown> | undefined;
        void next.then((result) => (received = result));
        // The change stream starts when its aggregate reaches the server: keep writing until the first event arrives.
        for (let i = 0; received === undefined && i < 100; i++) {
          const doc = { project, type: 'AccessPolicy', id: `ap${i}`, versionId: 1, lastUpdated: new Date().toISOString(), deleted: false, method: 'create' as const, resource: { resourceType: 'AccessPolicy', id: `ap${i}` } };
          await other.resources.write([{ doc: { ...doc, type: 'Patient' }, expectedVersion: 0 }]);
          await other.resources.write([{ doc, expectedVersion: 0 }]);
          await Promise.race([next, new Promise((resolve) => setTimeout(resolve, 100))]);
        }
        expect((await next).value).toMatchObject({ project, type: 'AccessPolicy' });
      } finally {
        await stream?.close();
        await other.close();
        await storage.close();
      }
    });
  });

  rateLimitStoreContract('mongo', async () => {
    const storage = await open();
    if (!storage.sharedCounters) throw new Error('the Mongo storage has no shared counters');
    return { counters: storage.sharedCounters, shared: true, close: () => storage.close() };
  });

  resourceStoreContract('mongo', open);
  recordStoreContract('mongo', open);
  signingKeysAtRestContract('mongo', open);
}
