/**
 * The server's configuration: one typed object, built from the environment at start-up by `load.ts`.
 * Every key, its environment variable and its default are listed here and in README.md.
 */

/** pino log levels accepted by LOG_LEVEL. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated configuration. */
export interface Config {
  /** PORT: TCP port to listen on. */
  port: number;
  /** HOST: the address to listen on (`0.0.0.0`: every IPv4 interface; `::` every interface; `127.0.0.1` loopback only). */
  host: string;
  /** PUBLIC_URL: the externally visible base URL (no trailing slash); absolute URLs are built from it. */
  publicUrl: string;
  /** DATA_DIR: where the embedded store keeps its journal. */
  dataDir: string;
  /** MONGODB_URI: when set, MongoDB is used instead of the embedded store. */
  mongodbUri?: string;
  /** MONGODB_CONNECT_TIMEOUT_MS: how long start-up waits for MongoDB before it stops with an error. */
  mongodbConnectTimeoutMs: number;
  /** LOG_LEVEL: pino level. */
  logLevel: LogLevel;
  /** BOOTSTRAP_TENANT / BOOTSTRAP_PROJECT: the tenant and project created on an empty store. */
  bootstrapTenant: string;
  bootstrapProject: string;
  /** ADMIN_EMAIL / ADMIN_PASSWORD: the bootstrap owner; the password is generated and printed once when unset. */
  adminEmail: string;
  adminPassword?: string;
  /** ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET: the bootstrap admin client (client_credentials, system/*.*). */
  adminClientId: string;
  adminClientSecret?: string;
  /** SEED_DEMO: load seed/demo.json into the bootstrap project at start-up (idempotent). */
  seedDemo: boolean;
  /** BODY_LIMIT: largest accepted request body in bytes (accepts suffixes kb, mb). */
  bodyLimitBytes: number;
  /** HISTORY_PAGE_DEFAULT / HISTORY_PAGE_MAX: `_count` default and ceiling for history bundles. */
  pageSizeDefault: number;
  pageSizeMax: number;
  /** BUNDLE_MAX_ENTRIES: most entries accepted in a batch or transaction Bundle. */
  bundleMaxEntries: number;
  /** SHUTDOWN_TIMEOUT_MS: how long SIGTERM waits for in-flight requests before closing anyway. */
  shutdownTimeoutMs: number;
  /**
   * MAX_RESPONSE_BYTES: the most a FHIR response body may hold (accepts suffixes kb, mb), counted while it is
   * built: a search, history or Bundle that would exceed it answers 422 `too-costly` (in a batch, the entry).
   */
  maxResponseBytes: number;
  /**
   * REQUEST_TIMEOUT_MS: the wall-time budget of one FHIR request; work still running past it (a search scanning
   * for visible matches, the remaining entries of a batch) stops with 422 `too-costly`.
   */
  requestTimeoutMs: number;
  /** LOGIN_MAX_FAILURES: failed sign-ins allowed per IP and per account within the window; then 429. */
  loginMaxFailures: number;
  /** LOGIN_FAILURE_WINDOW_SECONDS: the window over which failed sign-ins are counted. */
  loginFailureWindowSeconds: number;
  /** SESSION_LIFETIME_SECONDS: how long a sign-in session (the `fhir_session` cookie) lasts. */
  sessionLifetimeSeconds: number;
  /**
   * TRUST_PROXY: Express `trust proxy` — which proxies may set `X-Forwarded-For`/`-Proto` (false: none, so the
   * client IP is the socket's peer; true: any; a hop count; or a list of addresses, CIDR ranges and the names
   * loopback, linklocal, uniquelocal). The sign-in and OAuth rate limiters key on the resulting client IP.
   */
  trustProxy: boolean | number | string[];
  /** OAUTH_RATE_LIMIT: requests per client IP and window to each of token, introspect, revoke; 0 = no limit. */
  oauthRateLimit: number;
  /** OAUTH_RATE_LIMIT_WINDOW_SECONDS: the window of OAUTH_RATE_LIMIT. */
  oauthRateLimitWindowSeconds: number;
  /**
   * DPOP_REQUIRE_NONCE: every DPoP proof (token endpoint, FHIR API, userinfo, launch) must carry a nonce this server
   * issued (`DPoP-Nonce` header, `use_dpop_nonce` error; RFC 9449 §8, §9).
   */
  dpopRequireNonce: boolean;
  /** DPOP_NONCE_LIFETIME_SECONDS: how often the DPoP nonce rotates; a nonce is accepted for one more period after. */
  dpopNonceLifetimeSeconds: number;
  /**
   * SMART_STYLE_URL: the `smart_style_url` of token responses with launch context; `{issuer}`, `{tenant}` and
   * `{project}` are replaced per project. The default is the style document the server serves for each project.
   */
  smartStyleUrl: string;
  /**
   * ALLOW_HTTP_JWKS_URI: `never` (remote JWKS only over https, to public addresses) or `loopback` (for tests:
   * `http:` URLs are allowed when the host is a loopback address, and loopback addresses are reachable).
   */
  allowHttpJwksUri: 'never' | 'loopback';
  /**
   * JWKS_ALLOWED_HOSTS: host names, IP addresses and CIDR ranges a remote JWKS may be fetched from although they
   * are not public (an internal key server); comma-separated.
   */
  jwksAllowedHosts: string[];
  /** JWKS_MAX_BYTES: the largest remote JWKS accepted (accepts suffixes kb, mb); larger responses are cut off. */
  jwksMaxBytes: number;
  /** JWKS_TIMEOUT_MS: the deadline of one remote JWKS fetch, body included. */
  jwksTimeoutMs: number;
  /**
   * JWKS_CACHE_MIN_SECONDS / JWKS_CACHE_MAX_SECONDS: a remote JWKS is cached for its `Cache-Control: max-age`
   * clamped to these bounds (the minimum without one); an unknown `kid` refetches at most once per minimum.
   */
  jwksCacheMinSeconds: number;
  jwksCacheMaxSeconds: number;
  /**
   * REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: when true, every project's authorization endpoint accepts only pushed
   * requests (`request_uri` from the PAR endpoint, RFC 9126); per client: `ClientApplication.requirePushedAuthorizationRequests`.
   */
  requirePushedAuthorizationRequests: boolean;
  /**
   * SOFTWARE_STATEMENT_ISSUERS: per project (`tenant/project`), the issuers whose software statements allow a
   * client to register itself (RFC 7591 §2.3) without an initial access token, each with its public keys.
   */
  softwareStatementIssuers: Record<string, SoftwareStatementIssuer[]>;
  /** NODE_ENV: `production` turns on the production requirements (KEY_ENCRYPTION_KEY must be set). */
  production: boolean;
  /**
   * KEY_ENCRYPTION_KEY: the key (32 bytes, 64 hex digits or 43 base64url characters) that encrypts the private
   * signing keys in the store. Required in production; in development a key is generated once and kept in
   * `DATA_DIR/key-encryption-key` when it is unset.
   */
  keyEncryptionKey?: Buffer;
  /**
   * PASSWORD_HASH_COST: log2 of scrypt's N for new password hashes (r=8, p=1); 15 ≈ 32 MiB and ~170 ms of CPU per hash.
   * Stored hashes carry their own parameters, so changing it affects only passwords set afterwards.
   */
  passwordHashCost: number;
  /** AUDIT: `on` (default) records every FHIR interaction and security event as an AuditEvent (docs/audit.md); `off` records none. */
  audit: boolean;
  /** AUDIT_RETENTION_DAYS: AuditEvents older than this many days are purged (daily and at start); 0 keeps them forever. */
  auditRetentionDays: number;
  /** KEY_ENCRYPTION_KEY_PREVIOUS: the former key during a rotation; stored keys it encrypted are re-encrypted at start. */
  keyEncryptionKeyPrevious?: Buffer;
  /** BULK_EXPORT_DIR: where `$export` jobs write their NDJSON files (default `DATA_DIR/bulk-export`; docs/bulk-export.md). */
  bulkExportDir: string;
  /** BULK_EXPORT_RETENTION_SECONDS: how long the files of a finished export stay downloadable; then a sweep deletes them. */
  bulkExportRetentionSeconds: number;
  /** BULK_EXPORT_MAX_JOBS_PER_CLIENT: running exports one client (and user) may have at once; one more → 429. */
  bulkExportMaxJobsPerClient: number;
  /** BULK_EXPORT_CONCURRENCY: exports one server process runs at the same time; the others wait in turn. */
  bulkExportConcurrency: number;
}

/** Environment variable names, for documentation and error messages. */
export const ENV = {
  port: 'PORT',
  host: 'HOST',
  publicUrl: 'PUBLIC_URL',
  dataDir: 'DATA_DIR',
  mongodbUri: 'MONGODB_URI',
  mongodbConnectTimeoutMs: 'MONGODB_CONNECT_TIMEOUT_MS',
  logLevel: 'LOG_LEVEL',
  bootstrapTenant: 'BOOTSTRAP_TENANT',
  bootstrapProject: 'BOOTSTRAP_PROJECT',
  adminEmail: 'ADMIN_EMAIL',
  adminPassword: 'ADMIN_PASSWORD',
  adminClientId: 'ADMIN_CLIENT_ID',
  adminClientSecret: 'ADMIN_CLIENT_SECRET',
  seedDemo: 'SEED_DEMO',
  bodyLimitBytes: 'BODY_LIMIT',
  pageSizeDefault: 'PAGE_SIZE_DEFAULT',
  pageSizeMax: 'PAGE_SIZE_MAX',
  bundleMaxEntries: 'BUNDLE_MAX_ENTRIES',
  shutdownTimeoutMs: 'SHUTDOWN_TIMEOUT_MS',
  maxResponseBytes: 'MAX_RESPONSE_BYTES',
  requestTimeoutMs: 'REQUEST_TIMEOUT_MS',
  loginMaxFailures: 'LOGIN_MAX_FAILURES',
  loginFailureWindowSeconds: 'LOGIN_FAILURE_WINDOW_SECONDS',
  sessionLifetimeSeconds: 'SESSION_LIFETIME_SECONDS',
  trustProxy: 'TRUST_PROXY',
  oauthRateLimit: 'OAUTH_RATE_LIMIT',
  oauthRateLimitWindowSeconds: 'OAUTH_RATE_LIMIT_WINDOW_SECONDS',
  dpopRequireNonce: 'DPOP_REQUIRE_NONCE',
  dpopNonceLifetimeSeconds: 'DPOP_NONCE_LIFETIME_SECONDS',
  smartStyleUrl: 'SMART_STYLE_URL',
  allowHttpJwksUri: 'ALLOW_HTTP_JWKS_URI',
  jwksAllowedHosts: 'JWKS_ALLOWED_HOSTS',
  jwksMaxBytes: 'JWKS_MAX_BYTES',
  jwksTimeoutMs: 'JWKS_TIMEOUT_MS',
  jwksCacheMinSeconds: 'JWKS_CACHE_MIN_SECONDS',
  jwksCacheMaxSeconds: 'JWKS_CACHE_MAX_SECONDS',
  production: 'NODE_ENV',
  keyEncryptionKey: 'KEY_ENCRYPTION_KEY',
  passwordHashCost: 'PASSWORD_HASH_COST',
  keyEncryptionKeyPrevious: 'KEY_ENCRYPTION_KEY_PREVIOUS',
  audit: 'AUDIT',
  auditRetentionDays: 'AUDIT_RETENTION_DAYS',
  requirePushedAuthorizationRequests: 'REQUIRE_PUSHED_AUTHORIZATION_REQUESTS',
  softwareStatementIssuers: 'SOFTWARE_STATEMENT_ISSUERS',
  bulkExportDir: 'BULK_EXPORT_DIR',
  bulkExportRetentionSeconds: 'BULK_EXPORT_RETENTION_SECONDS',
  bulkExportMaxJobsPerClient: 'BULK_EXPORT_MAX_JOBS_PER_CLIENT',
  bulkExportConcurrency: 'BULK_EXPORT_CONCURRENCY',
} as const satisfies Record<keyof Config, string>;

/** Defaults for every optional key. */
export const DEFAULTS = {
  port: 3000,
  host: '0.0.0.0',
  mongodbConnectTimeoutMs: 10_000,
  dataDir: './data',
  logLevel: 'info' as LogLevel,
  bootstrapTenant: 'default',
  bootstrapProject: 'default',
  adminEmail: 'admin@example.com',
  adminClientId: 'admin-cli',
  seedDemo: true,
  bodyLimitBytes: 5 * 1024 * 1024,
  pageSizeDefault: 20,
  pageSizeMax: 1000,
  bundleMaxEntries: 1000,
  shutdownTimeoutMs: 10_000,
  maxResponseBytes: 32 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  loginMaxFailures: 10,
  loginFailureWindowSeconds: 900,
  sessionLifetimeSeconds: 8 * 3600,
  trustProxy: false as Config['trustProxy'],
  oauthRateLimit: 0,
  oauthRateLimitWindowSeconds: 60,
  dpopRequireNonce: false,
  dpopNonceLifetimeSeconds: 300,
  passwordHashCost: 15,
  smartStyleUrl: '{issuer}/api/v1/oauth/smart-style.json',
  allowHttpJwksUri: 'never' as Config['allowHttpJwksUri'],
  jwksAllowedHosts: [] as string[],
  jwksMaxBytes: 64 * 1024,
  jwksTimeoutMs: 5000,
  jwksCacheMinSeconds: 300,
  jwksCacheMaxSeconds: 86_400,
  audit: true,
  auditRetentionDays: 0,
  requirePushedAuthorizationRequests: false,
  softwareStatementIssuers: {} as Record<string, SoftwareStatementIssuer[]>,
  bulkExportRetentionSeconds: 3600,
  bulkExportMaxJobsPerClient: 3,
  bulkExportConcurrency: 2,
};

/** An issuer of software statements trusted by a project: its `iss` and its public keys (inline or by URL). */
export interface SoftwareStatementIssuer {
  issuer: string;
  /** A JWK Set of public keys. */
  jwks?: { keys: Array<Record<string, unknown>> };
  /** Where the issuer publishes its JWK Set (fetched like a client's jwksUri). */
  jwksUri?: string;
}
