/**
 * Process entry: load the configuration, open storage, bootstrap the first project, load the demo seed,
 * listen on HOST:PORT, and shut down gracefully on SIGTERM/SIGINT (stop accepting, let in-flight requests
 * finish, flush the store). The banner is printed once the socket is bound. Any start-up failure — a bad
 * variable, DATA_DIR not writable or locked by another process, MongoDB not answering within
 * MONGODB_CONNECT_TIMEOUT_MS, PORT in use, a KEY_ENCRYPTION_KEY that does not open the stored signing keys —
 * prints one line naming the cause and the variable and exits with status 1, the store closed (its LOCK released).
 * SIGTERM/SIGINT during start-up exit at once (143/130).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { buildApp, startBulkExports } from './app';
import type { BulkExports } from './fhir/bulk/bulk-exports';
import { type Audit, startAudit } from './audit';
import { ConfigError, loadConfig } from './config/load';
import { usePasswordHashCost } from './security/hashing';
import type { Config } from './config/schema';
import { fhirBaseUrl } from './fhir/rest/router';
import { createLogger, type Logger } from './logger';
import { type BootstrapResult, bootstrap, readSeedBundle } from './seed/bootstrap';
import { loadSeedBundle } from './seed/load-bundle';
import { FhirRepository } from './fhir/repository/repository';
import { type KeysAtRest, prepareKeysAtRest } from './oauth/tokens/keys-at-rest';
import { preloadResourceValidator } from './fhir/validation/validate-resource';
import { policyCacheFor } from './policy/cache';
import { CacheInvalidation } from './policy/invalidation';
import type { Storage } from './storage/ports';
import { listen, openConfiguredStorage, startupFailureLine } from './startup';
import { ProjectRegistry } from './tenancy/projects';

function keyEncryptionLines(atRest: KeysAtRest): string[] {
  if (atRest.generatedKey) {
    return [
      `  Key-encryption key: ${atRest.generatedKey}  (generated; shown once; kept in ${atRest.file})`,
      '  WARNING: KEY_ENCRYPTION_KEY is unset: the private signing keys are encrypted with a key kept next to them.',
      '           Fine for development; in production set KEY_ENCRYPTION_KEY (NODE_ENV=production requires it).',
    ];
  }
  if (atRest.source === 'data-dir') return [`  Key-encryption key: read from ${atRest.file} (development; set KEY_ENCRYPTION_KEY in production)`];
  return [];
}

function banner(config: Config, boot: BootstrapResult, atRest: KeysAtRest, server: Server): string {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const base = fhirBaseUrl(config.publicUrl, boot.project.tenant, boot.project.name);
  const issuer = `${config.publicUrl}/w/${boot.project.tenant}/${boot.project.name}`;
  const secret = boot.generatedClientSecret ?? '<secret>';
  const lines = [
    '',
    `FHIR server listening on port ${port} (HOST ${config.host}; ${config.mongodbUri ? 'MongoDB' : `embedded store in ${config.dataDir}`})`,
    `  FHIR base:          ${base}`,
    `  CapabilityStatement: ${base}/metadata`,
    `  OAuth issuer:       ${issuer}  (discovery: ${issuer}/.well-known/openid-configuration)`,
    `  Token endpoint:     ${issuer}/api/v1/oauth/token`,
    `  Admin user:         ${boot.adminEmail}${boot.generatedPassword ? `  password: ${boot.generatedPassword}  (generated; shown once)` : ''}`,
    `  Admin client:       ${boot.adminClientId}${boot.generatedClientSecret ? `  secret: ${boot.generatedClientSecret}  (generated; shown once)` : ''}`,
    '  Admin token:        every FHIR request but /metadata needs a bearer token; get one with',
    `                      curl -s -u '${boot.adminClientId}:${secret}' -d grant_type=client_credentials \\`,
    `                        ${issuer}/api/v1/oauth/token`,
  ];
  if (!boot.generatedPassword || !boot.generatedClientSecret) {
    lines.push('  Credentials not shown were set from ADMIN_PASSWORD / ADMIN_CLIENT_SECRET or generated on an earlier start.');
  }
  lines.push(...keyEncryptionLines(atRest));
  return `${lines.join('\n')}\n`;
}

async function loadDemo(storage: Storage, boot: BootstrapResult, logger: Logger): Promise<void> {
  const repo = new FhirRepository(storage.resources, boot.project.key);
  const summary = await loadSeedBundle(repo, await readSeedBundle('demo'));
  logger.info({ project: boot.project.key, ...summary }, 'demo seed loaded');
}

/**
 * Ends each keep-alive connection as soon as its response is written once shutdown began: `server.close()` closes
 * the connections idle at that moment, while a connection whose request was in flight would otherwise stay open
 * until its keep-alive timeout (5 s) and hold the exit back that long.
 * @param server - the listening server
 * @returns a function to call when shutdown begins
 */
function closeConnectionsWhenAnswered(server: Server): () => void {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const closeAfter = (res: ServerResponse): void => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
    const closeIdle = (): void => {
      setImmediate(() => server.closeIdleConnections());
    };
    if (res.writableFinished) closeIdle();
    else res.once('finish', closeIdle);
  };
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (closing) {
      closeAfter(res);
      return;
    }
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return () => {
    closing = true;
    for (const res of inFlight) closeAfter(res);
    inFlight.clear();
  };
}

function installShutdown(server: Server, storage: Storage, logger: Logger, timeoutMs: number, audit: Audit, bulk: BulkExports, invalidation?: CacheInvalidation): void {
  let stopping = false;
  const closeConnections = closeConnectionsWhenAnswered(server);
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    closeConnections();
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    force.unref();
    server.close(() => {
      (invalidation?.stop() ?? Promise.resolve())
        // Running exports stop at their next page and resume at the next start.
        .then(() => bulk.stop())
        // Every queued AuditEvent is written before the store closes.
        .then(() => audit.close())
        .then(() => storage.close())
        .then(() => {
          logger.info('storage flushed and closed; bye');
          process.exit(0);
        })
        .catch((err: unknown) => {
          logger.error({ err }, 'error while closing storage');
          process.exit(1);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Signals before the server listens: nothing to drain, so exit at once (the exit releases the LOCK). */
function exitOnSignalsDuringStartup(): () => void {
  const onTerm = (): never => process.exit(143);
  const onInt = (): never => process.exit(130);
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  return () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  };
}

let loadedConfig: Config | undefined;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  loadedConfig = config;
  usePasswordHashCost(config.passwordHashCost);
  const startupSignals = exitOnSignalsDuringStartup();
  const logger = createLogger(config.logLevel);
  const storage = await openConfiguredStorage(config, logger, (line) => process.stderr.write(`${line}\n`));
  let server: Server;
  let boot: BootstrapResult;
  let atRest: KeysAtRest;
  let audit: ReturnType<typeof startAudit> | undefined;
  let bulk: BulkExports | undefined;
  try {
    // Load the generated validator now rather than on the first write (after the store: a store that cannot be
    // opened should not wait for this).
    const { codeCache } = preloadResourceValidator();
    if (codeCache === 'rejected') logger.warn('validator: V8 rejected the code cache made by another Node version; `npm run build` remakes it (start-up is about 0.2 s slower without)');
    atRest = await prepareKeysAtRest(config, storage, logger);
    const projects = new ProjectRegistry(storage.records);
    boot = await bootstrap(config, storage, projects);
    logger.info({ project: boot.project.key, projectCreated: boot.projectCreated, ...boot.summary }, 'bootstrap project ready');
    if (config.seedDemo) await loadDemo(storage, boot, logger);
    audit = startAudit(config, storage.resources, logger, { compact: () => storage.compact() });
    bulk = startBulkExports({ config, storage, logger, projects, audit: audit.listener });
    const app = buildApp({ config, storage, logger, projects, keyEncryption: atRest.encryption, audit: audit.listener, bulk });
    server = await listen(app, config);
  } catch (err) {
    await bulk?.stop().catch(() => undefined);
    await audit?.close().catch(() => undefined);
    await storage.close().catch(() => undefined);
    throw err;
  }
  startupSignals();
  process.stdout.write(banner(config, boot, atRest, server));
  // Instances sharing MongoDB: another instance's write of a policy, client or user invalidates this one's cache.
  const invalidation = storage.resourceWrites && new CacheInvalidation(policyCacheFor(storage.resources), storage.resourceWrites, { logger }).start();
  installShutdown(server, storage, logger, config.shutdownTimeoutMs, audit, bulk as BulkExports, invalidation);
}

main().catch((err: unknown) => {
  process.stderr.write(`${startupFailureLine(err, loadedConfig)}\n`);
  process.exit(1);
});
