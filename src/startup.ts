/**
 * The steps of start-up that touch the machine — the data directory, MongoDB, the listening socket — and the one
 * line each failure prints: what went wrong and which variable to change (`PORT 3000 is already in use`).
 * `main.ts` strings them together; every failure ends the process with status 1.
 */
import * as fs from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import * as path from 'node:path';
import type { Config } from './config/schema';
import { ENV } from './config/schema';
import type { Logger } from './logger';
import { DataDirLockedError } from './storage/embedded';
import { openStorage } from './storage/open';
import type { Storage } from './storage/ports';

/** A start-up failure whose message is the line to print. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** How often a progress line is printed while MongoDB does not answer. */
export const PROGRESS_INTERVAL_MS = 2000;

const FILE_SYSTEM_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOENT', 'ENOSPC', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/** A system error (by shape: errors of Node's own modules can come from another realm, e.g. under jest). */
function errnoOf(err: unknown): NodeJS.ErrnoException | undefined {
  return typeof err === 'object' && err !== null && typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException) : undefined;
}

/**
 * Creates DATA_DIR if missing and proves it takes a file (so root on a read-only mount is caught too, where
 * permission bits alone would say yes).
 * @param dataDir - DATA_DIR
 * @throws StartupError naming DATA_DIR when it is not a writable directory
 */
export function checkDataDir(dataDir: string): void {
  const probe = path.join(dataDir, `.write-test-${process.pid}`);
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (!fs.statSync(dataDir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', path: dataDir });
    fs.writeFileSync(probe, '', { mode: 0o600 });
    fs.rmSync(probe, { force: true });
  } catch (err) {
    const errno = errnoOf(err);
    if (!errno) throw err;
    const where = errno.path !== undefined && errno.path !== dataDir && errno.path !== probe ? ` on ${errno.path}` : '';
    throw new StartupError(`${ENV.dataDir} ${dataDir} is not a writable directory (${errno.code}${where})`);
  }
}

/**
 * The hosts of a MongoDB connection string, without credentials, options or database (which may hold secrets).
 * @param uri - MONGODB_URI
 * @returns e.g. `db1:27017,db2:27017`
 */
export function mongoHosts(uri: string): string {
  const rest = uri.replace(/^mongodb(\+srv)?:\/\//, '');
  const authority = rest.split(/[/?]/, 1)[0] ?? '';
  const at = authority.lastIndexOf('@');
  return at < 0 ? authority : authority.slice(at + 1);
}

/**
 * Opens the configured store. With MongoDB, prints a progress line every {@link PROGRESS_INTERVAL_MS} while it
 * does not answer, and gives up after MONGODB_CONNECT_TIMEOUT_MS; the embedded store's DATA_DIR is checked first.
 * @param config - the configuration
 * @param logger - the process logger
 * @param progress - where progress lines go (stderr)
 * @returns the open storage
 * @throws StartupError naming MONGODB_URI / MONGODB_CONNECT_TIMEOUT_MS, or DATA_DIR
 */
export async function openConfiguredStorage(config: Config, logger: Logger, progress: (line: string) => void): Promise<Storage> {
  if (!config.mongodbUri) {
    checkDataDir(config.dataDir);
    return openStorage({ dataDir: config.dataDir, logger });
  }
  const hosts = mongoHosts(config.mongodbUri);
  const timeout = config.mongodbConnectTimeoutMs;
  const started = Date.now();
  const timer = setInterval(() => {
    const waited = Math.round((Date.now() - started) / 1000);
    progress(`Waiting for MongoDB at ${hosts} (${ENV.mongodbUri}): ${waited} s so far, giving up after ${timeout / 1000} s (${ENV.mongodbConnectTimeoutMs})`);
  }, PROGRESS_INTERVAL_MS);
  try {
    return await openStorage({ mongodbUri: config.mongodbUri, mongodbConnectTimeoutMs: timeout, dataDir: config.dataDir, logger });
  } catch (err) {
    if (err instanceof Error && (err.name === 'MongoConnectTimeoutError' || err.name === 'MongoServerSelectionError')) {
      throw new StartupError(`MongoDB at ${hosts} (${ENV.mongodbUri}) did not answer within ${timeout} ms (${ENV.mongodbConnectTimeoutMs})`);
    }
    throw new StartupError(`MongoDB at ${hosts} (${ENV.mongodbUri}): ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearInterval(timer);
  }
}

/**
 * Listens on HOST:PORT; resolves only once the socket is bound.
 * @param app - the request handler
 * @param config - HOST and PORT
 * @returns the listening server
 * @throws StartupError naming PORT or HOST when the address cannot be bound
 */
export function listen(app: RequestListener, config: Pick<Config, 'host' | 'port'>): Promise<Server> {
  const server = createServer(app);
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(listenError(err, config));
    server.once('error', failed);
    server.listen(config.port, config.host, () => {
      server.off('error', failed);
      resolve(server);
    });
  });
}

function listenError(err: Error, { host, port }: Pick<Config, 'host' | 'port'>): Error {
  const on = `${ENV.host} ${host}`;
  switch (errnoOf(err)?.code) {
    case 'EADDRINUSE':
      return new StartupError(`${ENV.port} ${port} is already in use (${on}): stop the other process or choose another ${ENV.port}`);
    case 'EACCES':
      return new StartupError(`${ENV.port} ${port} needs privileges this process lacks (${on}, EACCES): choose a ${ENV.port} above 1023`);
    case 'EADDRNOTAVAIL':
      return new StartupError(`${on} is not an address of this machine (EADDRNOTAVAIL)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`${on} does not resolve to an address (${errnoOf(err)?.code})`);
    default:
      return err;
  }
}

/**
 * The one line printed for a start-up failure.
 * @param err - what stopped start-up
 * @param config - the configuration (for the variable names' values), when it was loaded
 * @returns the message, on one line
 */
export function startupFailureLine(err: unknown, config?: Config): string {
  let message: string;
  if (err instanceof StartupError) message = err.message;
  else if (err instanceof DataDirLockedError) {
    message = `${ENV.dataDir} ${err.dataDir} is in use by process ${err.pid} (its LOCK file): stop that process or choose another ${ENV.dataDir}; if it is gone, remove ${path.join(err.dataDir, 'LOCK')}`;
  } else {
    const errno = errnoOf(err);
    const inDataDir = config && !config.mongodbUri && errno?.path !== undefined && FILE_SYSTEM_CODES.has(errno.code ?? '');
    const text = typeof err === 'object' && err !== null && typeof (err as Error).message === 'string' ? (err as Error).message : String(err);
    message = inDataDir ? `${ENV.dataDir} ${config.dataDir}: ${errno?.code} on ${errno?.path}` : text;
  }
  return `Start-up failed: ${message.replace(/\s*\n\s*/g, ' ')}`;
}
