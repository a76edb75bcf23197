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

  resourceStoreContract('mongo', open);
  recordStoreContract('mongo', open);
  signingKeysAtRestContract('mongo', open);
}
