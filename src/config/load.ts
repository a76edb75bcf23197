/**
 * Builds the {@link Config} from environment variables. The only module that reads `process.env`.
 * A bad value throws a {@link ConfigError} naming the variable; `main.ts` prints it and exits.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { decodeKeyEncryptionKey } from '../security/key-encryption';
import { type Config, DEFAULTS, ENV, LOG_LEVELS, type LogLevel, type SoftwareStatementIssuer } from './schema';

/** A configuration value is invalid. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Tenant and project names appear in URLs and storage keys. */
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The lowest PASSWORD_HASH_COST (scrypt N = 1,024: about a millisecond; tests only). */
const PASSWORD_HASH_COST_MIN = 10;

/**
 * Reads and validates the configuration.
 * @param env - the environment (defaults to process.env)
 * @returns the typed configuration
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const get = (key: keyof typeof ENV): string | undefined => {
    const value = env[ENV[key]];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const port = parseInteger(ENV.port, get('port'), DEFAULTS.port, 0, 65535);
  const publicUrl = parsePublicUrl(get('publicUrl') ?? `http://localhost:${port}`);
  const jwksCacheMinSeconds = parseInteger(ENV.jwksCacheMinSeconds, get('jwksCacheMinSeconds'), DEFAULTS.jwksCacheMinSeconds, 0, 86_400);
  const pageSizeMax = parseInteger(ENV.pageSizeMax, get('pageSizeMax'), DEFAULTS.pageSizeMax, 1, 10_000);
  const config: Config = {
    port,
    host: parseHost(get('host')),
    publicUrl,
    dataDir: get('dataDir') ?? DEFAULTS.dataDir,
    mongodbUri: parseMongoUri(get('mongodbUri')),
    mongodbConnectTimeoutMs: parseInteger(ENV.mongodbConnectTimeoutMs, get('mongodbConnectTimeoutMs'), DEFAULTS.mongodbConnectTimeoutMs, 500, 600_000),
    logLevel: parseLogLevel(get('logLevel')),
    bootstrapTenant: parseSlug(ENV.bootstrapTenant, get('bootstrapTenant') ?? DEFAULTS.bootstrapTenant),
    bootstrapProject: parseSlug(ENV.bootstrapProject, get('bootstrapProject') ?? DEFAULTS.bootstrapProject),
    adminEmail: parseEmail(get('adminEmail') ?? DEFAULTS.adminEmail),
    adminPassword: parseSecret(ENV.adminPassword, get('adminPassword'), 8),
    adminClientId: parseClientId(get('adminClientId') ?? DEFAULTS.adminClientId),
    adminClientSecret: parseSecret(ENV.adminClientSecret, get('adminClientSecret'), 16),
    seedDemo: parseBoolean(ENV.seedDemo, get('seedDemo'), DEFAULTS.seedDemo),
    bodyLimitBytes: parseSize(ENV.bodyLimitBytes, get('bodyLimitBytes'), DEFAULTS.bodyLimitBytes),
    pageSizeDefault: parseInteger(ENV.pageSizeDefault, get('pageSizeDefault'), DEFAULTS.pageSizeDefault, 1, pageSizeMax),
    pageSizeMax,
    bundleMaxEntries: parseInteger(ENV.bundleMaxEntries, get('bundleMaxEntries'), DEFAULTS.bundleMaxEntries, 1, 100_000),
    shutdownTimeoutMs: parseInteger(ENV.shutdownTimeoutMs, get('shutdownTimeoutMs'), DEFAULTS.shutdownTimeoutMs, 0, 600_000),
    maxResponseBytes: parseSize(ENV.maxResponseBytes, get('maxResponseBytes'), DEFAULTS.maxResponseBytes),
    requestTimeoutMs: parseInteger(ENV.requestTimeoutMs, get('requestTimeoutMs'), DEFAULTS.requestTimeoutMs, 100, 3_600_000),
    loginMaxFailures: parseInteger(ENV.loginMaxFailures, get('loginMaxFailures'), DEFAULTS.loginMaxFailures, 1, 10_000),
    loginFailureWindowSeconds: parseInteger(ENV.loginFailureWindowSeconds, get('loginFailureWindowSeconds'), DEFAULTS.loginFailureWindowSeconds, 1, 86_400),
    sessionLifetimeSeconds: parseInteger(ENV.sessionLifetimeSeconds, get('sessionLifetimeSeconds'), DEFAULTS.sessionLifetimeSeconds, 60, 30 * 86_400),
    trustProxy: parseTrustProxy(get('trustProxy')),
    oauthRateLimit: parseInteger(ENV.oauthRateLimit, get('oauthRateLimit'), DEFAULTS.oauthRateLimit, 0, 10_000_000),
    oauthRateLimitWindowSeconds: parseInteger(ENV.oauthRateLimitWindowSeconds, get('oauthRateLimitWindowSeconds'), DEFAULTS.oauthRateLimitWindowSeconds, 1, 86_400),
    dpopRequireNonce: parseBoolean(ENV.dpopRequireNonce, get('dpopRequireNonce'), DEFAULTS.dpopRequireNonce),
    dpopNonceLifetimeSeconds: parseInteger(ENV.dpopNonceLifetimeSeconds, get('dpopNonceLifetimeSeconds'), DEFAULTS.dpopNonceLifetimeSeconds, 10, 86_400),
    smartStyleUrl: get('smartStyleUrl') ?? DEFAULTS.smartStyleUrl,
    allowHttpJwksUri: parseAllowHttpJwksUri(get('allowHttpJwksUri')),
    jwksAllowedHosts: parseJwksAllowedHosts(get('jwksAllowedHosts')),
    jwksMaxBytes: parseSize(ENV.jwksMaxBytes, get('jwksMaxBytes'), DEFAULTS.jwksMaxBytes),
    jwksTimeoutMs: parseInteger(ENV.jwksTimeoutMs, get('jwksTimeoutMs'), DEFAULTS.jwksTimeoutMs, 50, 60_000),
    jwksCacheMinSeconds,
    jwksCacheMaxSeconds: parseInteger(ENV.jwksCacheMaxSeconds, get('jwksCacheMaxSeconds'), DEFAULTS.jwksCacheMaxSeconds, jwksCacheMinSeconds, 7 * 86_400),
    production: get('production') === 'production',
    keyEncryptionKey: parseKeyEncryptionKey(ENV.keyEncryptionKey, get('keyEncryptionKey')),
    keyEncryptionKeyPrevious: parseKeyEncryptionKey(ENV.keyEncryptionKeyPrevious, get('keyEncryptionKeyPrevious')),
    audit: parseOnOff(ENV.audit, get('audit'), DEFAULTS.audit),
    auditRetentionDays: parseInteger(ENV.auditRetentionDays, get('auditRetentionDays'), DEFAULTS.auditRetentionDays, 0, 36_500),
    requirePushedAuthorizationRequests: parseBoolean(ENV.requirePushedAuthorizationRequests, get('requirePushedAuthorizationRequests'), DEFAULTS.requirePushedAuthorizationRequests),
    softwareStatementIssuers: parseSoftwareStatementIssuers(get('softwareStatementIssuers')),
    bulkExportDir: get('bulkExportDir') ?? path.join(get('dataDir') ?? DEFAULTS.dataDir, 'bulk-export'),
    bulkExportRetentionSeconds: parseInteger(ENV.bulkExportRetentionSeconds, get('bulkExportRetentionSeconds'), DEFAULTS.bulkExportRetentionSeconds, 1, 30 * 86_400),
    bulkExportMaxJobsPerClient: parseInteger(ENV.bulkExportMaxJobsPerClient, get('bulkExportMaxJobsPerClient'), DEFAULTS.bulkExportMaxJobsPerClient, 1, 1000),
    bulkExportConcurrency: parseInteger(ENV.bulkExportConcurrency, get('bulkExportConcurrency'), DEFAULTS.bulkExportConcurrency, 1, 64),
    passwordHashCost: parseInteger(ENV.passwordHashCost, get('passwordHashCost'), DEFAULTS.passwordHashCost, PASSWORD_HASH_COST_MIN, 20),
  };
  if (config.production && !config.keyEncryptionKey) {
    throw new ConfigError(
      ENV.keyEncryptionKey,
      'required when NODE_ENV=production (32 random bytes as 64 hex digits or 43 base64url characters, e.g. `openssl rand -hex 32`)',
    );
  }
  if (config.production && config.passwordHashCost < DEFAULTS.passwordHashCost) {
    throw new ConfigError(ENV.passwordHashCost, `below ${DEFAULTS.passwordHashCost} is for tests and may not be set when NODE_ENV=production`);
  }
  if (config.production && config.allowHttpJwksUri === 'loopback') {
    throw new ConfigError(ENV.allowHttpJwksUri, 'loopback is for tests and may not be set when NODE_ENV=production');
  }
  if (config.keyEncryptionKeyPrevious && !config.keyEncryptionKey) {
    throw new ConfigError(ENV.keyEncryptionKeyPrevious, `set only together with ${ENV.keyEncryptionKey} (the new key)`);
  }
  if (config.keyEncryptionKey && config.keyEncryptionKeyPrevious?.equals(config.keyEncryptionKey)) {
    throw new ConfigError(ENV.keyEncryptionKeyPrevious, `is the same key as ${ENV.keyEncryptionKey}`);
  }
  return config;
}

function parseInteger(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function parseBoolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function parseOnOff(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (/^(on|true|1|yes)$/i.test(raw)) return true;
  if (/^(off|false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected on or off, got "${raw}"`);
}

function parseSize(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw);
  if (!match) throw new ConfigError(name, `expected a size such as 1048576, 512kb or 5mb, got "${raw}"`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const bytes = Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
  if (bytes < 1024 || bytes > 512 * 1024 * 1024) throw new ConfigError(name, 'must be between 1kb and 512mb');
  return bytes;
}

function parsePublicUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(ENV.publicUrl, `not an absolute URL: "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(ENV.publicUrl, 'must use http or https');
  }
  if (url.search || url.hash) throw new ConfigError(ENV.publicUrl, 'must not contain a query or fragment');
  return url.toString().replace(/\/+$/, '');
}

/** HOST: an IPv4 or IPv6 address, or a host name resolving to an address of this machine. */
function parseHost(raw: string | undefined): string {
  if (raw === undefined) return DEFAULTS.host;
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}$/.test(host)) {
    throw new ConfigError(ENV.host, `expected an IP address (0.0.0.0, ::, 127.0.0.1) or a host name, got "${raw}"`);
  }
  return host;
}

function parseMongoUri(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^mongodb(\+srv)?:\/\//.test(raw)) {
    throw new ConfigError(ENV.mongodbUri, 'must start with mongodb:// or mongodb+srv://');
  }
  return raw;
}

function parseLogLevel(raw: string | undefined): LogLevel {
  if (raw === undefined) return DEFAULTS.logLevel;
  const level = raw.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(ENV.logLevel, `expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  }
  return level as LogLevel;
}

function parseSlug(name: string, raw: string): string {
  if (!SLUG.test(raw)) {
    throw new ConfigError(name, `expected lowercase letters, digits and '-' (max 63), got "${raw}"`);
  }
  return raw;
}

function parseEmail(raw: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(raw)) throw new ConfigError(ENV.adminEmail, `not an email address: "${raw}"`);
  return raw.toLowerCase();
}

function parseClientId(raw: string): string {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(raw)) {
    throw new ConfigError(ENV.adminClientId, 'must be a valid FHIR id (letters, digits, - and ., max 64)');
  }
  return raw;
}

function parseSecret(name: string, raw: string | undefined, minLength: number): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length < minLength) throw new ConfigError(name, `must be at least ${minLength} characters`);
  return raw;
}

/** A 256-bit key: 64 hex digits or 43 base64url characters. */
function parseKeyEncryptionKey(name: string, raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  const key = decodeKeyEncryptionKey(raw);
  if (!key) throw new ConfigError(name, `expected 32 bytes as 64 hex digits or 43 base64url characters (got ${raw.length} characters)`);
  return key;
}

/** Named address ranges Express (proxy-addr) understands in `trust proxy`. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY: `true`/`false`, a hop count, or a comma-separated list of addresses, CIDR ranges and range names.
 * Each list entry is checked here so a typo stops the server instead of silently trusting nobody (or everybody).
 */
function parseTrustProxy(raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined) return DEFAULTS.trustProxy;
  if (/^(true|yes)$/i.test(raw)) return true;
  if (/^(false|no)$/i.test(raw)) return false;
  if (/^\d+$/.test(raw)) return parseInteger(ENV.trustProxy, raw, 0, 0, 100);
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  for (const entry of entries) {
    if (PROXY_RANGE_NAMES.has(entry)) continue;
    const [address = '', prefix, ...rest] = entry.split('/');
    const version = isIP(address);
    const max = version === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= max);
    if (version === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError(ENV.trustProxy, `expected true, false, a hop count, or addresses/CIDR ranges/loopback/linklocal/uniquelocal, got "${entry}"`);
    }
  }
  if (entries.length === 0) throw new ConfigError(ENV.trustProxy, 'the list is empty');
  return entries;
}

function parseAllowHttpJwksUri(raw: string | undefined): Config['allowHttpJwksUri'] {
  if (raw === undefined) return DEFAULTS.allowHttpJwksUri;
  const value = raw.toLowerCase();
  if (value !== 'never' && value !== 'loopback') throw new ConfigError(ENV.allowHttpJwksUri, `expected never or loopback, got "${raw}"`);
  return value;
}

/** JWKS_ALLOWED_HOSTS: host names, IP addresses and CIDR ranges, comma-separated. */
function parseJwksAllowedHosts(raw: string | undefined): string[] {
  if (raw === undefined) return [...DEFAULTS.jwksAllowedHosts];
  const entries = raw.split(',').map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== '');
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const version = isIP(address);
    if (version !== 0) {
      const max = version === 6 ? 128 : 32;
      if ((prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= max)) || rest.length > 0) {
        throw new ConfigError(ENV.jwksAllowedHosts, `not a valid address or CIDR range: "${entry}"`);
      }
    } else if (!/^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$/.test(entry) || prefix !== undefined) {
      throw new ConfigError(ENV.jwksAllowedHosts, `expected host names, addresses or CIDR ranges, got "${entry}"`);
    }
  }
  return entries;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * SOFTWARE_STATEMENT_ISSUERS: a JSON object mapping `tenant/project` to a list of `{ "issuer": "...", "jwks":
 * {"keys": [...]} }` or `{ "issuer": "...", "jwksUri": "https://..." }`. Keys must be public (no private or
 * symmetric key material).
 */
function parseSoftwareStatementIssuers(raw: string | undefined): Record<string, SoftwareStatementIssuer[]> {
  if (raw === undefined) return {};
  const fail = (message: string): never => {
    throw new ConfigError(ENV.softwareStatementIssuers, message);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail('expected JSON: {"tenant/project": [{"issuer": "...", "jwks": {"keys": [...]}}]}');
  }
  if (!isObject(parsed)) return fail('expected a JSON object keyed by tenant/project');
  const result: Record<string, SoftwareStatementIssuer[]> = {};
  for (const [project, list] of Object.entries(parsed)) {
    const [tenant = '', name = '', ...rest] = project.split('/');
    if (!SLUG.test(tenant) || !SLUG.test(name) || rest.length > 0) fail(`"${project}" is not a tenant/project`);
    if (!Array.isArray(list)) return fail(`${project}: expected a list of issuers`);
    result[project] = list.map((entry: unknown) => {
      if (!isObject(entry) || typeof entry.issuer !== 'string' || entry.issuer === '') return fail(`${project}: every entry needs an issuer`);
      const { issuer, jwks, jwksUri } = entry;
      if ((jwks === undefined) === (jwksUri === undefined)) return fail(`${project}: issuer ${issuer} needs exactly one of jwks and jwksUri`);
      if (jwksUri !== undefined) {
        if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) return fail(`${project}: the jwksUri of ${issuer} must be an http(s) URL`);
        return { issuer, jwksUri };
      }
      const keys = isObject(jwks) && Array.isArray(jwks.keys) ? jwks.keys : undefined;
      if (!keys || keys.length === 0 || !keys.every(isObject)) return fail(`${project}: the jwks of ${issuer} must be a JWK Set with keys`);
      if (keys.some((key) => key.d !== undefined || key.k !== undefined || key.kty === 'oct')) return fail(`${project}: the jwks of ${issuer} must hold public keys only`);
      return { issuer, jwks: { keys } };
    });
  }
  return result;
}
