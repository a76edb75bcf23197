import { randomUUID } from 'node:crypto';
import { searchParamsContract } from './search-params.contract';

const uri = process.env.MONGODB_URI;
if (!uri) {
  // eslint-disable-next-line no-console
  console.log('search parameter contract on MongoDB skipped: MONGODB_URI is not set');
  test.skip('search parameters (mongo): MONGODB_URI is not set', () => undefined);
} else {
  const dbName = `fhir_search_${randomUUID().replace(/-/g, '')}`;
  searchParamsContract(
    'mongo',
    async () => {
      const { openMongoStorage } = await import('../../../src/storage/mongo');
      return openMongoStorage({ uri, dbName });
    },
    async () => {
      const { MongoClient } = await import('mongodb');
      const client = await MongoClient.connect(uri);
      await client.db(dbName).dropDatabase();
      await client.close();
    },
  );
}
