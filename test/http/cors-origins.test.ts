/**
 * The per-project allowed-origin cache: one ClientApplication search per project until a write invalidates it
 * through the policy cache's hook (or the entry grows older than the max age).
 */
import { FhirRepository } from '../../src/fhir/repository/repository';
import { AllowedOrigins, ORIGIN_CACHE_MAX_AGE_MS, originOf } from '../../src/http/cors-origins';
import { policyCacheFor } from '../../src/policy/cache';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
let repo: FhirRepository;
let now = 1_000_000;
let origins: AllowedOrigins;

const client = (id: string, fields: Record<string, unknown>) =>
  repo.update('ClientApplication', id, { resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none', ...fields });

beforeAll(async () => {
  t = await buildTestApp();
  repo = new FhirRepository(t.storage.resources, 'default/default');
  origins = new AllowedOrigins(t.storage.resources, policyCacheFor(t.storage.resources), () => now);
  await client('one', { redirectUri: ['https://one.example/cb?x=1', 'https://One.Example:443/other', 'myapp://callback', 'urn:x-not-http'], allowedOrigin: ['http://localhost:3001/'] });
});
afterAll(async () => {
  await t.close();
});

describe('originOf', () => {
  it.each([
    ['https://app.example/callback?q=1#f', 'https://app.example'],
    ['HTTPS://APP.example:443/x', 'https://app.example'],
    ['http://localhost:8080', 'http://localhost:8080'],
    ['myapp://callback', undefined],
    ['/relative', undefined],
    [42, undefined],
  ])('%s → %s', (value, expected) => {
    expect(originOf(value)).toBe(expected);
  });
});

describe('AllowedOrigins', () => {
  it('collects the http(s) origins of redirect URIs and allowedOrigin, normalized', async () => {
    // https://fhir.example.test: the server's own origin, from the admin app's redirect URI (seed/bootstrap.json).
    // The CLI's loopback redirect URIs without a port (http://127.0.0.1/cb, http://[::1]/cb) are a native app's: no origin.
    expect([...(await origins.originsOf('default/default'))].sort()).toEqual(['http://localhost:3001', 'https://fhir.example.test', 'https://one.example']);
    expect(await origins.allows('default/default', 'http://127.0.0.1')).toBe(false);
    expect(await origins.allows('default/default', 'http://[::1]')).toBe(false);
  });

  it('searches once per project, however many lookups follow', async () => {
    const before = origins.stats.loads;
    for (let i = 0; i < 20; i++) await origins.allows('default/default', 'https://one.example');
    expect(origins.stats.loads).toBe(before);
  });

  it('reloads after a ClientApplication write, and only then', async () => {
    const before = origins.stats.loads;
    expect(await origins.allows('default/default', 'https://two.example')).toBe(false);
    await client('two', { redirectUri: ['https://two.example/cb'] });
    expect(await origins.allows('default/default', 'https://two.example')).toBe(true);
    expect(await origins.allows('default/default', 'https://two.example')).toBe(true);
    expect(origins.stats.loads).toBe(before + 1);
  });

  it('reloads an entry older than the max age (writes made by other instances)', async () => {
    const before = origins.stats.loads;
    now += ORIGIN_CACHE_MAX_AGE_MS + 1;
    await origins.allows('default/default', 'https://one.example');
    expect(origins.stats.loads).toBe(before + 1);
  });
});
