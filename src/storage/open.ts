/**
 * Chooses the storage adapter: MongoDB when a connection string is configured, the embedded store otherwise.
 * The Mongo driver is loaded only when it is used.
 */
import type { Storage } from './ports';
import type { StorageLogger } from './logger';
import { openEmbeddedStorage } from './embedded';
import type { JournalFileSystem } from './embedded';

/** Options for {@link openStorage}. */
export interface OpenStorageOptions {
  /** MONGODB_URI; when set, the Mongo adapter is used and `dataDir` is ignored. */
  mongodbUri?: string;
  /** Database name for MongoDB (defaults to the one in the URI). */
  mongodbDbName?: string;
  /** MONGODB_CONNECT_TIMEOUT_MS: how long to wait for MongoDB to answer. */
  mongodbConnectTimeoutMs?: number;
  /** DATA_DIR of the embedded store. */
  dataDir: string;
  logger?: StorageLogger;
  /** The embedded journal's file system (tests inject write faults through it; see EmbeddedStorageOptions). */
  journalFileSystem?: JournalFileSystem;
}

/**
 * Opens the configured storage backend.
 *
 * @param options - MongoDB URI (optional), data directory and logger
 * @returns the open storage
 * @example
 * ```ts
 * const storage = await openStorage({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, logger });
 * ```
 */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  if (options.mongodbUri) {
    const { openMongoStorage } = await import('./mongo');
    return openMongoStorage({
      uri: options.mongodbUri,
      dbName: options.mongodbDbName,
      logger: options.logger,
      connectTimeoutMs: options.mongodbConnectTimeoutMs,
    });
  }
  return openEmbeddedStorage({ dataDir: options.dataDir, logger: options.logger, journalFileSystem: options.journalFileSystem });
}
