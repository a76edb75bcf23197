/**
 * Assembles the Express application from its dependencies. Tests build it with `buildApp()` and drive it over
 * HTTP; `main.ts` adds configuration loading, storage, bootstrap and the listener.
 */
import express, { type Express, Router } from 'express';
import { type DecisionListener, NO_AUDIT } from './audit/events';
import type { Config } from './config/schema';
import { CallerAccess } from './fhir/access/caller-context';
import { ExportJobs } from './bulk/export-jobs';
import { BulkExports } from './fhir/bulk/bulk-exports';
import { FHIR_PATH } from './fhir/rest/base-url';
import { FHIR_BASE_PATH, fhirRouter } from './fhir/rest/router';
import { securityHeaders } from './http/security-headers';
import { ADMIN_APP_CLIENT_ID, adminApp } from './http/admin-app';
import { cors, publicCors } from './http/cors';
import { AllowedOrigins } from './http/cors-origins';
import { errorHandler, notFoundHandler } from './http/error-handler';
import { requestContext } from './http/request-context';
import type { Logger } from './logger';
import { DISCOVERY_PATHS, mountDiscovery, OAUTH_BASE_PATH, OAUTH_JSON_ENDPOINTS, oauthServer, SMART_CONFIGURATION_PATH } from './oauth/router';
import { KeyStore } from './oauth/tokens/keys';
import { policyCacheFor } from './policy/cache';
import type { KeyEncryption } from './security/key-encryption';
import { RemoteJwks, remoteJwksOptions } from './security/remote-jwks';
import { useResourceSecrets } from './fhir/repository/resource-secrets';
import type { Storage } from './storage/ports';
import { ProjectRegistry } from './tenancy/projects';
import { systemProjectKey } from './tenancy/project-resource';
import { ProjectProvisioner } from './tenancy/provision';

/**
 * The public documents: discovery, the SMART configuration, the JWKS and the CapabilityStatement. Any origin may
 * read them (`Access-Control-Allow-Origin: *`); matched exactly (case and trailing slash), like the routes behind.
 */
export const PUBLIC_DOCUMENT_PATHS = [
  ...DISCOVERY_PATHS,
  SMART_CONFIGURATION_PATH,
  `${OAUTH_BASE_PATH}/jwks`,
  `${FHIR_BASE_PATH}/metadata`,
];

/** Everything the app needs. */
export interface AppDeps {
  config: Config;
  storage: Storage;
  logger: Logger;
  projects?: ProjectRegistry;
  /** The key-encryption keys sealing the private signing keys in the store (see `prepareKeysAtRest`). */
  keyEncryption: KeyEncryption;
  /** Where decision events go (the audit trail; default: nowhere). */
  audit?: DecisionListener;
  /** The bulk export service, started (see {@link startBulkExports}); default: one started here. */
  bulk?: BulkExports;
}

/**
 * Starts the bulk export service: unfinished jobs resume, expired files are swept. Stop it before the store closes.
 * @param deps - configuration, storage, logger, the project registry and the decision listener
 * @returns the started service
 */
export function startBulkExports(deps: Pick<AppDeps, 'config' | 'storage' | 'logger' | 'audit'> & { projects: ProjectRegistry }): BulkExports {
  const { config, storage, logger, projects } = deps;
  const access = new CallerAccess(storage.resources, deps.audit ?? NO_AUDIT);
  return new BulkExports({ config, jobs: new ExportJobs(storage.records), access, projects, logger, singleProcess: storage.kind === 'embedded' }).start();
}

/**
 * Builds the application.
 * @param deps - configuration, storage, logger and key-encryption keys
 * @returns the Express app
 */
export function buildApp(deps: AppDeps): Express {
  const { config, storage, logger } = deps;
  const projects = deps.projects ?? new ProjectRegistry(storage.records);
  // A deactivated project answers as an unknown one: the registry reads the status of its Project resource.
  projects.followStatus({ resources: storage.resources, cache: policyCacheFor(storage.resources), systemProject: systemProjectKey(config) });
  // IdentityProvider client secrets are sealed with the same keys as the signing keys.
  useResourceSecrets(storage.resources, deps.keyEncryption);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Which proxies may name the client (X-Forwarded-For): `req.ip`, and so the rate limiters, depend on it.
  app.set('trust proxy', config.trustProxy);
  app.use(requestContext(logger));
  app.use(securityHeaders(FHIR_PATH));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await storage.ping().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', storage: storage.kind });
  });

  // CORS before the routes, so preflights are answered before any authentication; not on the HTML pages. The
  // public documents first: any origin; then the registered origins of the project for everything else.
  const corsDeps = { projects, origins: new AllowedOrigins(storage.resources, policyCacheFor(storage.resources)) };
  const audit = deps.audit ?? NO_AUDIT;
  const oauthDeps = { config, storage, projects, logger, remoteJwks: new RemoteJwks(remoteJwksOptions(config, logger)), audit };
  const oauth = oauthServer(oauthDeps, new KeyStore(storage.records, deps.keyEncryption, audit));
  app.use(Router({ caseSensitive: true, strict: true }).all(PUBLIC_DOCUMENT_PATHS, publicCors(['GET', 'HEAD'])));
  mountDiscovery(app, oauthDeps);
  // The FHIR API before the OAuth endpoints: its requests are the most frequent, and the paths do not overlap.
  app.use(FHIR_BASE_PATH, cors(corsDeps, ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']));
  const provisioner = new ProjectProvisioner({ config, resources: storage.resources, projects, keys: oauth.keys, logger });
  const bulk = deps.bulk ?? startBulkExports({ config, storage, logger, projects, audit });
  app.use(FHIR_BASE_PATH, fhirRouter({ config, access: new CallerAccess(storage.resources, audit), projects, bearer: oauth.bearer, provisioner, bulk }));
  app.use(
    OAUTH_JSON_ENDPOINTS.filter((endpoint) => endpoint !== 'jwks').map((endpoint) => `${OAUTH_BASE_PATH}/${endpoint}`),
    cors(corsDeps, ['GET', 'POST']),
  );
  app.use(OAUTH_BASE_PATH, oauth.router);
  // The admin web app (static; it talks to the FHIR and OAuth endpoints above like any other client).
  app.use(adminApp({ publicUrl: config.publicUrl, tenant: config.bootstrapTenant, project: config.bootstrapProject, clientId: ADMIN_APP_CLIENT_ID }));
  app.use(notFoundHandler());
  app.use(errorHandler());
  return app;
}
