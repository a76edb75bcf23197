/**
 * Connecting to MongoDB. Resource writes need multi-document transactions, so the deployment must be a replica
 * set (a single-node replica set is enough) or a sharded cluster; a standalone server is refused at start.
 */
import { MongoClient } from 'mongodb';
import type { Db } from 'mongodb';

/** An open client and the database the server uses. */
export interface MongoConnection {
  client: MongoClient;
  db: Db;
}

/** The deployment cannot run the transactions the adapter needs. */
export class MongoTransactionsUnsupportedError extends Error {
  constructor() {
    super(
      'MongoDB storage needs multi-document transactions: connect to a replica set (a single-node replica set ' +
        'started with --replSet and rs.initiate() is enough) or a sharded cluster, not a standalone server',
    );
    this.name = 'MongoTransactionsUnsupportedError';
  }
}

/**
 * Connects, checks that transactions are available and selects the database.
 * Writes are acknowledged by a majority and journaled (`w: 'majority', j: true`); undefined fields are omitted.
 *
 * @param uri - a MongoDB connection string
 * @param dbName - database name; defaults to the one in the URI (or the driver's default)
 * @returns the client and database
 * @throws MongoTransactionsUnsupportedError for a standalone server
 */
export async function connectMongo(uri: string, dbName?: string): Promise<MongoConnection> {
  const client = new MongoClient(uri, {
    ignoreUndefined: true,
    writeConcern: { w: 'majority', journal: true },
  });
  await client.connect();
  try {
    const db = client.db(dbName);
    const hello = await db.admin().command({ hello: 1 });
    if (typeof hello.setName !== 'string' && hello.msg !== 'isdbgrid') throw new MongoTransactionsUnsupportedError();
    return { client, db };
  } catch (err) {
    await client.close();
    throw err;
  }
}
