/**
 * Builds the real application on its own embedded store in a temporary directory, with the bootstrap project
 * created exactly as `npm start` does (key-encryption key included): bootstrapped in that directory when the test
 * changes a setting the bootstrap depends on, otherwise started from a copy of a store bootstrapped once per jest
 * worker with the same code (then the bootstrap finds its project, as on a restart). Nothing is stubbed.
 */
import { cp, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { buildApp, startBulkExports } from '../../src/app';
import type { BulkExports } from '../../src/fhir/bulk/bulk-exports';
import { type Audit, startAudit } from '../../src/audit';
import type { AuditTrailOptions } from '../../src/audit/trail';
import { loadConfig } from '../../src/config/load';
import { KeyStore } from '../../src/oauth/tokens/keys';
import { usePasswordHashCost } from '../../src/security/hashing';
import type { Config } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { prepareKeysAtRest } from '../../src/oauth/tokens/keys-at-rest';
import type { KeyEncryption } from '../../src/security/key-encryption';
import { type BootstrapResult, bootstrap } from '../../src/seed/bootstrap';
import type { JournalFileSystem } from '../../src/storage/embedded';
import { openStorage } from '../../src/storage/open';
import type { Storage } from '../../src/storage/ports';
import { ProjectRegistry } from '../../src/tenancy/projects';

/** A running test app and what it was built from. */
export interface TestApp {
  app: Express;
  config: Config;
  storage: Storage;
  projects: ProjectRegistry;
  boot: BootstrapResult;
  /** FHIR base path of the bootstrap project (relative, for supertest). */
  base: string;
  /**
   * Requests carrying a real admin bearer token of the project named in the URL (`/w/{tenant}/{project}/...`),
   * obtained from the token endpoint with client_credentials. Projects other than the bootstrap one need
   * {@link TestApp.authorize} first; without a token the request goes out unauthenticated.
   */
  api: Api;
  /** The bootstrap project's admin access token. */
  adminToken: string;
  /** Provisions an admin client (system/*.*) in a project and obtains its token for {@link TestApp.api}. */
  authorize(tenant: string, project: string): Promise<string>;
  /** The key-encryption keys sealing the private signing keys (development key file in the temp DATA_DIR). */
  keyEncryption: KeyEncryption;
  /** The audit module (AUDIT=on: its trail writes AuditEvents; `audit.trail.flush()` writes what is queued). */
  audit: Audit;
  /** The bulk export service (stopped by close()). */
  bulk: BulkExports;
  /** Every log line the app wrote, parsed. */
  logLines: Array<Record<string, unknown>>;
  /** Closes the store and deletes the data directory. */
  close(): Promise<void>;
}

/** supertest, with the Authorization header of the URL's project set. */
export interface Api {
  get(url: string): request.Test;
  post(url: string): request.Test;
  put(url: string): request.Test;
  patch(url: string): request.Test;
  delete(url: string): request.Test;
  head(url: string): request.Test;
  options(url: string): request.Test;
}

const TEST_ADMIN_CLIENT = 'test-admin';
const TEST_ADMIN_SECRET = 'test-admin-client-secret';

/**
 * Obtains a client_credentials token from the real token endpoint.
 * @param app - the app
 * @param tenant - tenant slug
 * @param project - project slug
 * @param clientId - client id
 * @param secret - client secret
 * @returns the access token
 */
export async function clientCredentialsToken(app: Express, tenant: string, project: string, clientId: string, secret: string): Promise<string> {
  const res = await request(app)
    .post(`/w/${tenant}/${project}/api/v1/oauth/token`)
    .auth(clientId, secret)
    .type('form')
    .send({ grant_type: 'client_credentials' });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { access_token: string }).access_token;
}

/** How the test app's store is opened. */
export interface TestAppOptions {
  /** The embedded journal's file system, for tests that make the disk fail (test/helpers/faulty-journal-fs.ts). */
  journalFileSystem?: JournalFileSystem;
  /** The audit trail's queue limits (AUDIT=on). */
  auditTrail?: Pick<AuditTrailOptions, 'queueLimit' | 'batchSize' | 'flushIntervalMs'>;
}

/** The configuration every test app starts from (`env` adds to it). */
const BASE_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  PUBLIC_URL: 'https://fhir.example.test',
  ADMIN_PASSWORD: 'correct horse battery staple',
  ADMIN_CLIENT_SECRET: 'admin-client-secret-for-tests',
  LOG_LEVEL: 'info',
  // AuditEvents written in the background would show in the searches and histories other suites compare; the
  // audit suites turn it on (test/audit).
  AUDIT: 'off',
  // Real scrypt at its lowest cost: a password hash takes about a millisecond instead of ~170 ms.
  PASSWORD_HASH_COST: '10',
};

/** Settings the bootstrapped store depends on: a test that sets one bootstraps its own store. */
const BOOTSTRAP_SETTINGS = [
  'PUBLIC_URL',
  'BOOTSTRAP_TENANT',
  'BOOTSTRAP_PROJECT',
  'ADMIN_EMAIL',
  'ADMIN_PASSWORD',
  'ADMIN_CLIENT_ID',
  'ADMIN_CLIENT_SECRET',
  'KEY_ENCRYPTION_KEY',
  'KEY_ENCRYPTION_KEY_PREVIOUS',
  'PASSWORD_HASH_COST',
];

/**
 * A data directory bootstrapped once per jest worker with {@link BASE_ENV} (key-encryption key, bootstrap project and
 * its signing key): an app with the base bootstrap settings starts from a copy of it, as `npm start` starts on a
 * store it bootstrapped before, instead of generating an RSA key per test file. Kept under the run's temporary
 * directory (test/global-setup.ts), removed after the run.
 */
async function bootstrappedTemplate(): Promise<string | undefined> {
  const root = process.env.FHIR_TEST_TEMPLATES_DIR;
  if (!root) return undefined;
  const template = path.join(root, `worker-${process.env.JEST_WORKER_ID ?? '0'}`);
  try {
    await stat(template);
    return template;
  } catch {
    // not made yet in this worker
  }
  const building = `${template}.${process.pid}.tmp`;
  await rm(building, { recursive: true, force: true });
  const config = loadConfig({ ...BASE_ENV, DATA_DIR: building });
  usePasswordHashCost(config.passwordHashCost);
  const logger = createLogger('silent');
  const storage = await openStorage({ dataDir: building, logger });
  try {
    const { encryption } = await prepareKeysAtRest(config, storage, logger);
    const boot = await bootstrap(config, storage, new ProjectRegistry(storage.records));
    await new KeyStore(storage.records, encryption).activeKey(boot.project.key);
  } finally {
    await storage.close();
  }
  await rename(building, template);
  return template;
}

/**
 * Builds a test app.
 * @param env - extra environment variables (config names as in README)
 * @param options - how the store is opened
 * @returns the app and its parts
 */
export async function buildTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-test-'));
  const ownBootstrap = options.journalFileSystem !== undefined || BOOTSTRAP_SETTINGS.some((name) => env[name] !== undefined);
  const template = ownBootstrap ? undefined : await bootstrappedTemplate();
  if (template) await cp(template, dataDir, { recursive: true });
  const config = loadConfig({ ...BASE_ENV, DATA_DIR: dataDir, ...env });
  usePasswordHashCost(config.passwordHashCost);
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const storage = await openStorage({ dataDir, logger, journalFileSystem: options.journalFileSystem });
  const projects = new ProjectRegistry(storage.records);
  const { encryption: keyEncryption } = await prepareKeysAtRest(config, storage, logger);
  const boot = await bootstrap(config, storage, projects);
  const audit = startAudit(config, storage.resources, logger, { trail: options.auditTrail });
  const bulk = startBulkExports({ config, storage, logger, projects, audit: audit.listener });
  const app = buildApp({ config, storage, logger, projects, keyEncryption, audit: audit.listener, bulk });
  const tokens = new Map<string, string>();
  const adminToken = await clientCredentialsToken(app, config.bootstrapTenant, config.bootstrapProject, config.adminClientId, config.adminClientSecret as string);
  tokens.set(`${config.bootstrapTenant}/${config.bootstrapProject}`, adminToken);
  const withToken = (test: request.Test, url: string): request.Test => {
    const match = /^\/w\/([^/]+)\/([^/?]+)\//.exec(url);
    const token = match ? tokens.get(`${match[1]}/${match[2]}`) : undefined;
    return token ? test.set('Authorization', `Bearer ${token}`) : test;
  };
  const api: Api = {
    get: (url) => withToken(request(app).get(url), url),
    post: (url) => withToken(request(app).post(url), url),
    put: (url) => withToken(request(app).put(url), url),
    patch: (url) => withToken(request(app).patch(url), url),
    delete: (url) => withToken(request(app).delete(url), url),
    head: (url) => withToken(request(app).head(url), url),
    options: (url) => withToken(request(app).options(url), url),
  };
  const authorize = async (tenant: string, project: string): Promise<string> => {
    const key = `${tenant}/${project}`;
    const known = tokens.get(key);
    if (known) return known;
    await projects.ensure(tenant, project);
    const repo = new FhirRepository(storage.resources, key);
    await repo.update('ClientApplication', TEST_ADMIN_CLIENT, {
      resourceType: 'ClientApplication',
      id: TEST_ADMIN_CLIENT,
      name: 'Test admin client',
      status: 'active',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: TEST_ADMIN_SECRET,
      scope: 'system/*.*',
    });
    await repo.update('AccessPolicy', TEST_ADMIN_CLIENT, {
      resourceType: 'AccessPolicy',
      id: TEST_ADMIN_CLIENT,
      name: 'Test admin client: full access',
      engine: 'full-access',
      target: [{ link: { reference: `ClientApplication/${TEST_ADMIN_CLIENT}` } }],
    });
    const token = await clientCredentialsToken(app, tenant, project, TEST_ADMIN_CLIENT, TEST_ADMIN_SECRET);
    tokens.set(key, token);
    return token;
  };
  return {
    app,
    api,
    adminToken,
    authorize,
    config,
    storage,
    projects,
    keyEncryption,
    boot,
    base: `/w/${config.bootstrapTenant}/${config.bootstrapProject}/api/v1/fhir/r4`,
    logLines,
    audit,
    bulk,
    close: async () => {
      await bulk.stop();
      await audit.close();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
