/**
 * Connecting to MongoDB. Resource writes need multi-document transactions, so the deployment must be a replica
 * set (a single-node replica set is enough) or a sharded cluster; a standalone server is refused at start. The
 * search index is a compound wildcard index, so the server must be MongoDB 7.0 or later.
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

/** The server is older than the adapter needs. */
export class MongoVersionUnsupportedError extends Error {
  constructor(version: string) {
    super(`MongoDB storage needs MongoDB ${MINIMUM_VERSION.join('.')} or later (compound wildcard indexes); the server is ${version}`);
    this.name = 'MongoVersionUnsupportedError';
  }
}

/** No MongoDB server answered within the connect timeout. */
export class MongoConnectTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no MongoDB server answered within ${timeoutMs} ms`);
    this.name = 'MongoConnectTimeoutError';
  }
}

/**
 * `client.connect()`, given up after `timeoutMs` at the latest: the driver's server selection timeout alone can
 * overrun it by its connect attempts in flight.
 */
async function connectWithin(client: MongoClient, timeoutMs: number | undefined): Promise<void> {
  if (timeoutMs === undefined) {
    await client.connect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new MongoConnectTimeoutError(timeoutMs)), timeoutMs);
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (err) {
    void client.close().catch(() => undefined);
    if (err instanceof Error && err.name === 'MongoServerSelectionError') throw new MongoConnectTimeoutError(timeoutMs);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The oldest server version the adapter runs on. */
export const MINIMUM_VERSION = [7, 0] as const;

/**
 * Refuses a server older than {@link MINIMUM_VERSION}.
 * @param version - the server's version string (`buildInfo.version`, e.g. `7.0.12`)
 * @throws MongoVersionUnsupportedError for an older or unreadable version
 */
export function checkServerVersion(version: string): void {
  const [major = NaN, minor = NaN] = version.split('.').map((part) => Number.parseInt(part, 10));
  const [minMajor, minMinor] = MINIMUM_VERSION;
  if (!(major > minMajor || (major === minMajor && minor >= minMinor))) throw new MongoVersionUnsupportedError(version);
}

/**
 * Connects, checks the server version, that transactions are available and selects the database.
 * Writes are acknowledged by a majority and journaled (`w: 'majority', j: true`); undefined fields are omitted.
 *
 * @param uri - a MongoDB connection string
 * @param dbName - database name; defaults to the one in the URI (or the driver's default)
 * @param connectTimeoutMs - how long to wait for a server to answer (the driver's server selection timeout)
 * @returns the client and database
 * @throws MongoConnectTimeoutError when no server answers in time; MongoTransactionsUnsupportedError for a
 *   standalone server; MongoVersionUnsupportedError before 7.0
 */
export async function connectMongo(uri: string, dbName?: string, connectTimeoutMs?: number): Promise<MongoConnection> {
  const client = new MongoClient(uri, {
    ignoreUndefined: true,
    writeConcern: { w: 'majority', journal: true },
    ...(connectTimeoutMs !== undefined ? { serverSelectionTimeoutMS: connectTimeoutMs, connectTimeoutMS: connectTimeoutMs } : {}),
  });
  await connectWithin(client, connectTimeoutMs);
  try {
    const db = client.db(dbName);
    const info = await db.admin().command({ buildInfo: 1 });
    checkServerVersion(String(info.version));
    const hello = await db.admin().command({ hello: 1 });
    if (typeof hello.setName !== 'string' && hello.msg !== 'isdbgrid') throw new MongoTransactionsUnsupportedError();
    return { client, db };
  } catch (err) {
    await client.close();
    throw err;
  }
}
