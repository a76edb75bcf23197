import { ConfigError, loadConfig } from '../../src/config/load';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      dataDir: './data',
      mongodbUri: undefined,
      mongodbConnectTimeoutMs: 10000,
      logLevel: 'info',
      bootstrapTenant: 'default',
      bootstrapProject: 'default',
      adminEmail: 'admin@example.com',
      adminPassword: undefined,
      adminClientId: 'admin-cli',
      adminClientSecret: undefined,
      seedDemo: true,
      bodyLimitBytes: 5 * 1024 * 1024,
      pageSizeDefault: 20,
      pageSizeMax: 1000,
      passwordHashCost: 15,
      bundleMaxEntries: 1000,
      loginMaxFailures: 10,
      loginFailureWindowSeconds: 900,
      sessionLifetimeSeconds: 28800,
      shutdownTimeoutMs: 10000,
      trustProxy: false,
      oauthRateLimit: 0,
      oauthRateLimitWindowSeconds: 60,
      dpopRequireNonce: false,
      dpopNonceLifetimeSeconds: 300,
      smartStyleUrl: '{issuer}/api/v1/oauth/smart-style.json',
      maxResponseBytes: 32 * 1024 * 1024,
      requestTimeoutMs: 30000,
      allowHttpJwksUri: 'never',
      jwksAllowedHosts: [],
      jwksMaxBytes: 64 * 1024,
      jwksTimeoutMs: 5000,
      jwksCacheMinSeconds: 300,
      jwksCacheMaxSeconds: 86400,
      production: false,
      keyEncryptionKey: undefined,
      keyEncryptionKeyPrevious: undefined,
      audit: true,
      auditRetentionDays: 0,
      requirePushedAuthorizationRequests: false,
      softwareStatementIssuers: {},
      bulkExportDir: 'data/bulk-export',
      bulkExportRetentionSeconds: 3600,
      bulkExportMaxJobsPerClient: 3,
      bulkExportConcurrency: 2,
    });
  });

  it('reads REQUIRE_PUSHED_AUTHORIZATION_REQUESTS and SOFTWARE_STATEMENT_ISSUERS', () => {
    const key = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };
    const config = loadConfig({
      REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: 'true',
      SOFTWARE_STATEMENT_ISSUERS: JSON.stringify({ 'default/default': [{ issuer: 'https://ss.example', jwks: { keys: [key] } }, { issuer: 'b', jwksUri: 'https://b.example/jwks' }] }),
    });
    expect(config.requirePushedAuthorizationRequests).toBe(true);
    expect(config.softwareStatementIssuers).toEqual({ 'default/default': [{ issuer: 'https://ss.example', jwks: { keys: [key] } }, { issuer: 'b', jwksUri: 'https://b.example/jwks' }] });
    expect(() => loadConfig({ REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: 'maybe' })).toThrow(/^REQUIRE_PUSHED_AUTHORIZATION_REQUESTS:/);
    for (const bad of ['not json', '[]', '{"nope": []}', '{"a/b": [{"issuer": "x"}]}', '{"a/b": [{"issuer": "x", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}]}']) {
      expect(() => loadConfig({ SOFTWARE_STATEMENT_ISSUERS: bad })).toThrow(/^SOFTWARE_STATEMENT_ISSUERS:/);
    }
  });

  it('reads the bulk export settings, the directory defaulting to DATA_DIR/bulk-export', () => {
    expect(loadConfig({ DATA_DIR: '/srv/fhir' }).bulkExportDir).toBe('/srv/fhir/bulk-export');
    expect(
      loadConfig({ BULK_EXPORT_DIR: '/exports', BULK_EXPORT_RETENTION_SECONDS: '600', BULK_EXPORT_MAX_JOBS_PER_CLIENT: '1', BULK_EXPORT_CONCURRENCY: '4' }),
    ).toMatchObject({ bulkExportDir: '/exports', bulkExportRetentionSeconds: 600, bulkExportMaxJobsPerClient: 1, bulkExportConcurrency: 4 });
    expect(() => loadConfig({ BULK_EXPORT_RETENTION_SECONDS: '0' })).toThrow(/^BULK_EXPORT_RETENTION_SECONDS:/);
    expect(() => loadConfig({ BULK_EXPORT_MAX_JOBS_PER_CLIENT: '0' })).toThrow(/^BULK_EXPORT_MAX_JOBS_PER_CLIENT:/);
  });

  it('reads AUDIT as on/off and AUDIT_RETENTION_DAYS as a day count', () => {
    expect(loadConfig({ AUDIT: 'off', AUDIT_RETENTION_DAYS: '365' })).toMatchObject({ audit: false, auditRetentionDays: 365 });
    expect(loadConfig({ AUDIT: 'ON' }).audit).toBe(true);
    expect(() => loadConfig({ AUDIT: 'maybe' })).toThrow(/^AUDIT: expected on or off/);
    expect(() => loadConfig({ AUDIT_RETENTION_DAYS: '-1' })).toThrow(/^AUDIT_RETENTION_DAYS:/);
  });

  it('reads KEY_ENCRYPTION_KEY as 64 hex digits or 43 base64url characters', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));
    const previous = Buffer.alloc(32, 0xab);
    expect(loadConfig({ KEY_ENCRYPTION_KEY: key.toString('hex') }).keyEncryptionKey).toEqual(key);
    const config = loadConfig({ KEY_ENCRYPTION_KEY: key.toString('base64url'), KEY_ENCRYPTION_KEY_PREVIOUS: `${previous.toString('base64url')}=` });
    expect(config.keyEncryptionKey).toEqual(key);
    expect(config.keyEncryptionKeyPrevious).toEqual(previous);
  });

  it('requires KEY_ENCRYPTION_KEY when NODE_ENV=production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/^KEY_ENCRYPTION_KEY: required when NODE_ENV=production/);
    const key = Buffer.alloc(32, 1).toString('hex');
    expect(loadConfig({ NODE_ENV: 'production', KEY_ENCRYPTION_KEY: key })).toMatchObject({ production: true, keyEncryptionKey: Buffer.alloc(32, 1) });
    expect(loadConfig({ NODE_ENV: 'development' }).production).toBe(false);
    expect(() => loadConfig({ NODE_ENV: 'production', KEY_ENCRYPTION_KEY: key, ALLOW_HTTP_JWKS_URI: 'loopback' })).toThrow(/^ALLOW_HTTP_JWKS_URI: loopback is for tests/);
    expect(() => loadConfig({ NODE_ENV: 'production', KEY_ENCRYPTION_KEY: key, PASSWORD_HASH_COST: '12' })).toThrow(/^PASSWORD_HASH_COST: below 15 is for tests/);
    expect(loadConfig({ NODE_ENV: 'production', KEY_ENCRYPTION_KEY: key, PASSWORD_HASH_COST: '17' }).passwordHashCost).toBe(17);
  });

  it('hashes passwords at PASSWORD_HASH_COST (log2 of scrypt N), 15 unless set', () => {
    expect(loadConfig({}).passwordHashCost).toBe(15);
    expect(loadConfig({ PASSWORD_HASH_COST: '10' }).passwordHashCost).toBe(10);
  });

  it.each([
    ['KEY_ENCRYPTION_KEY', 'too-short', 'KEY_ENCRYPTION_KEY: expected 32 bytes as 64 hex digits or 43 base64url characters (got 9 characters)'],
    ['KEY_ENCRYPTION_KEY', 'a'.repeat(62), 'KEY_ENCRYPTION_KEY: expected 32 bytes as 64 hex digits or 43 base64url characters (got 62 characters)'],
    // 43 base64url characters whose last one carries non-zero padding bits: not the spelling of any 32-byte key.
    ['KEY_ENCRYPTION_KEY', `${'A'.repeat(42)}B`, 'KEY_ENCRYPTION_KEY: expected 32 bytes as 64 hex digits or 43 base64url characters (got 43 characters)'],
  ])('stops on a malformed %s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('refuses KEY_ENCRYPTION_KEY_PREVIOUS without KEY_ENCRYPTION_KEY, or equal to it', () => {
    const key = Buffer.alloc(32, 2).toString('hex');
    expect(() => loadConfig({ KEY_ENCRYPTION_KEY_PREVIOUS: key })).toThrow('KEY_ENCRYPTION_KEY_PREVIOUS: set only together with KEY_ENCRYPTION_KEY (the new key)');
    expect(() => loadConfig({ KEY_ENCRYPTION_KEY: key, KEY_ENCRYPTION_KEY_PREVIOUS: key })).toThrow('KEY_ENCRYPTION_KEY_PREVIOUS: is the same key as KEY_ENCRYPTION_KEY');
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      PUBLIC_URL: 'https://fhir.example.org/',
      DATA_DIR: '/var/lib/fhir',
      MONGODB_URI: 'mongodb://db:27017/fhir?replicaSet=rs0',
      LOG_LEVEL: 'DEBUG',
      BOOTSTRAP_TENANT: 'acme',
      BOOTSTRAP_PROJECT: 'clinic-1',
      ADMIN_EMAIL: 'Root@Example.org',
      ADMIN_PASSWORD: 'a long password',
      ADMIN_CLIENT_ID: 'ops',
      ADMIN_CLIENT_SECRET: '0123456789abcdef',
      SEED_DEMO: 'false',
      BODY_LIMIT: '2mb',
      PAGE_SIZE_DEFAULT: '50',
      PAGE_SIZE_MAX: '500',
      SHUTDOWN_TIMEOUT_MS: '2000',
      TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8',
      OAUTH_RATE_LIMIT: '300',
      OAUTH_RATE_LIMIT_WINDOW_SECONDS: '30',
    });
    expect(config).toMatchObject({
      port: 8080,
      publicUrl: 'https://fhir.example.org',
      mongodbUri: 'mongodb://db:27017/fhir?replicaSet=rs0',
      logLevel: 'debug',
      bootstrapTenant: 'acme',
      bootstrapProject: 'clinic-1',
      adminEmail: 'root@example.org',
      seedDemo: false,
      bodyLimitBytes: 2 * 1024 * 1024,
      pageSizeDefault: 50,
      pageSizeMax: 500,
      trustProxy: ['loopback', '10.0.0.0/8', 'fd00::/8'],
      oauthRateLimit: 300,
      oauthRateLimitWindowSeconds: 30,
    });
  });

  it('reads DPOP_REQUIRE_NONCE as a boolean and DPOP_NONCE_LIFETIME_SECONDS as seconds', () => {
    expect(loadConfig({ DPOP_REQUIRE_NONCE: 'true', DPOP_NONCE_LIFETIME_SECONDS: '60' })).toMatchObject({ dpopRequireNonce: true, dpopNonceLifetimeSeconds: 60 });
    expect(() => loadConfig({ DPOP_REQUIRE_NONCE: 'sometimes' })).toThrow('DPOP_REQUIRE_NONCE: expected true or false, got "sometimes"');
    expect(() => loadConfig({ DPOP_NONCE_LIFETIME_SECONDS: '5' })).toThrow('DPOP_NONCE_LIFETIME_SECONDS: must be between 10 and 86400, got 5');
  });

  it('reads HOST and MONGODB_CONNECT_TIMEOUT_MS', () => {
    expect(loadConfig({ HOST: '127.0.0.1', MONGODB_CONNECT_TIMEOUT_MS: '2500' })).toMatchObject({ host: '127.0.0.1', mongodbConnectTimeoutMs: 2500 });
    expect(loadConfig({ HOST: '[::1]' }).host).toBe('::1');
    expect(loadConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(() => loadConfig({ HOST: 'a b' })).toThrow('HOST: expected an IP address (0.0.0.0, ::, 127.0.0.1) or a host name, got "a b"');
    expect(() => loadConfig({ MONGODB_CONNECT_TIMEOUT_MS: '10' })).toThrow('MONGODB_CONNECT_TIMEOUT_MS: must be between 500 and 600000, got 10');
  });

  it.each([
    ['true', true],
    ['FALSE', false],
    ['2', 2],
    ['192.168.0.1', ['192.168.0.1']],
    ['uniquelocal,::1', ['uniquelocal', '::1']],
  ])('reads TRUST_PROXY=%s', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).trustProxy).toEqual(expected);
  });

  it('reads the remote JWKS settings', () => {
    expect(
      loadConfig({
        ALLOW_HTTP_JWKS_URI: 'Loopback',
        JWKS_ALLOWED_HOSTS: 'keys.intranet.example, 10.20.0.0/16 ,fd00::/8,192.168.1.7',
        JWKS_MAX_BYTES: '16kb',
        JWKS_TIMEOUT_MS: '250',
        JWKS_CACHE_MIN_SECONDS: '0',
        JWKS_CACHE_MAX_SECONDS: '3600',
      }),
    ).toMatchObject({
      allowHttpJwksUri: 'loopback',
      jwksAllowedHosts: ['keys.intranet.example', '10.20.0.0/16', 'fd00::/8', '192.168.1.7'],
      jwksMaxBytes: 16 * 1024,
      jwksTimeoutMs: 250,
      jwksCacheMinSeconds: 0,
      jwksCacheMaxSeconds: 3600,
    });
  });

  it.each([
    ['PORT', 'eighty', 'PORT: expected an integer, got "eighty"'],
    ['PORT', '70000', 'PORT: must be between 0 and 65535, got 70000'],
    ['PUBLIC_URL', 'not a url', 'PUBLIC_URL: not an absolute URL: "not a url"'],
    ['PUBLIC_URL', 'ftp://x', 'PUBLIC_URL: must use http or https'],
    ['MONGODB_URI', 'postgres://x', 'MONGODB_URI: must start with mongodb:// or mongodb+srv://'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    ['BOOTSTRAP_TENANT', 'Has Spaces', 'BOOTSTRAP_TENANT: expected lowercase letters, digits and \'-\' (max 63), got "Has Spaces"'],
    ['ADMIN_EMAIL', 'nobody', 'ADMIN_EMAIL: not an email address: "nobody"'],
    ['ADMIN_PASSWORD', 'short', 'ADMIN_PASSWORD: must be at least 8 characters'],
    ['ADMIN_CLIENT_SECRET', 'short', 'ADMIN_CLIENT_SECRET: must be at least 16 characters'],
    ['ADMIN_CLIENT_ID', 'bad id!', 'ADMIN_CLIENT_ID: must be a valid FHIR id (letters, digits, - and ., max 64)'],
    ['SEED_DEMO', 'maybe', 'SEED_DEMO: expected true or false, got "maybe"'],
    ['TRUST_PROXY', 'my-proxy', 'TRUST_PROXY: expected true, false, a hop count, or addresses/CIDR ranges/loopback/linklocal/uniquelocal, got "my-proxy"'],
    ['TRUST_PROXY', '10.0.0.0/33', 'TRUST_PROXY: expected true, false, a hop count, or addresses/CIDR ranges/loopback/linklocal/uniquelocal, got "10.0.0.0/33"'],
    ['OAUTH_RATE_LIMIT', '-1', 'OAUTH_RATE_LIMIT: expected an integer, got "-1"'],
    ['OAUTH_RATE_LIMIT_WINDOW_SECONDS', '0', 'OAUTH_RATE_LIMIT_WINDOW_SECONDS: must be between 1 and 86400, got 0'],
    ['BODY_LIMIT', 'huge', 'BODY_LIMIT: expected a size such as 1048576, 512kb or 5mb, got "huge"'],
    ['ALLOW_HTTP_JWKS_URI', 'true', 'ALLOW_HTTP_JWKS_URI: expected never or loopback, got "true"'],
    ['JWKS_ALLOWED_HOSTS', 'https://keys.example', 'JWKS_ALLOWED_HOSTS: expected host names, addresses or CIDR ranges, got "https://keys.example"'],
    ['JWKS_ALLOWED_HOSTS', '10.0.0.0/40', 'JWKS_ALLOWED_HOSTS: not a valid address or CIDR range: "10.0.0.0/40"'],
    ['JWKS_MAX_BYTES', 'lots', 'JWKS_MAX_BYTES: expected a size such as 1048576, 512kb or 5mb, got "lots"'],
    ['JWKS_TIMEOUT_MS', '10', 'JWKS_TIMEOUT_MS: must be between 50 and 60000, got 10'],
    ['PASSWORD_HASH_COST', '9', 'PASSWORD_HASH_COST: must be between 10 and 20, got 9'],
    ['PASSWORD_HASH_COST', '21', 'PASSWORD_HASH_COST: must be between 10 and 20, got 21'],
    ['JWKS_CACHE_MAX_SECONDS', '100', 'JWKS_CACHE_MAX_SECONDS: must be between 300 and 604800, got 100'],
  ])('stops on a bad %s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new ConfigError(name, message.slice(name.length + 2)));
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
