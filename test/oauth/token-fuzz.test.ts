/**
 * 800 malformed requests to the token, introspection, revocation, JWKS and userinfo endpoints, generated from a
 * fixed seed: none may answer 5xx, and every error body is exactly `{ error, error_description }` (two strings),
 * never cached, with no internals in it — except a request without a bearer token to userinfo, whose challenge
 * and body carry no error code (RFC 6750 §3.1): `{ error_description }` alone.
 */
import request from 'supertest';
import { ADMIN, OAUTH, type OAuthFixture, setupOAuth, WEB } from './oauth-fixtures';
import { seededRandom as generator } from '../helpers/seeded-random';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

const random = generator(0x5eed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const b64 = (value: string) => Buffer.from(value).toString('base64url');

const VALUES = [
  '',
  ' ',
  'client_credentials',
  'authorization_code',
  'refresh_token',
  'password',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  'admin-cli',
  'web-app',
  'public-app',
  '../../etc/passwd',
  '%00',
  '\u0000\u0001',
  'ü🔥\u202e',
  '<script>alert(1)</script>',
  '"quoted" \\ back',
  'a'.repeat(43),
  'a'.repeat(200),
  'x'.repeat(5000),
  'https://app.example/callback',
  'system/*.* openid offline_access',
  '   scope  with  spaces ',
  'a.b.c',
  `${b64('{"alg":"none"}')}.${b64('{"iss":"web-app","sub":"web-app"}')}.`,
  `${b64('{"alg":"RS256","kid":"x"}')}.${b64('{}')}.${b64('sig')}`,
  `${b64('not json')}.${b64('also not')}.AAAA`,
  `${b64('{"alg":"HS256"}')}.${b64('{"iss":"admin-cli","sub":"admin-cli","exp":99999999999}')}.c2ln`,
  '{"json":true}',
  '[]',
  'null',
  '-1',
  '1e309',
];
const NAMES = [
  'grant_type',
  'code',
  'code_verifier',
  'redirect_uri',
  'refresh_token',
  'scope',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'token',
  'token_type_hint',
  'nonce',
  '__proto__',
  'constructor',
  'a[b]',
  '',
];

function randomForm(): string {
  const pairs: string[] = [];
  const count = Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const name = pick(NAMES);
    const value = pick(VALUES);
    pairs.push(random() < 0.1 ? `${name}=%zz${value}` : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  }
  if (random() < 0.15) pairs.push(pairs[0] ?? 'grant_type=client_credentials');
  return pairs.join('&');
}

function randomAuthorization(): string | undefined {
  switch (Math.floor(random() * 9)) {
    case 0:
      return undefined;
    case 1:
      return `Basic ${Buffer.from(`${pick(VALUES)}:${pick(VALUES)}`).toString('base64')}`;
    case 2:
      return `Basic ${Buffer.from(pick(VALUES)).toString('base64')}`;
    case 3:
      return `Basic ${pick(VALUES).replace(/[^\x20-\x7e]/g, '')}`;
    case 4:
      return `Bearer ${pick(VALUES).replace(/[^\x20-\x7e]/g, '')}`;
    case 5:
      return `Basic ${Buffer.from(`${ADMIN[0]}:${ADMIN[1]}`).toString('base64')}`;
    case 6:
      return `Basic ${Buffer.from(`${encodeURIComponent(WEB[0])}:%E0%A4%A`).toString('base64')}`;
    case 7:
      return 'Digest username="x"';
    default:
      return `Bearer ${fx.t.adminToken}`;
  }
}

interface Case {
  method: 'get' | 'post' | 'put' | 'delete' | 'patch';
  path: string;
  contentType?: string;
  body?: string;
  authorization?: string;
}

function randomCase(i: number): Case {
  const endpoint = pick(['token', 'token', 'token', 'introspect', 'introspect', 'revoke', 'revoke', 'jwks', 'userinfo', 'no-such-endpoint']);
  const method = random() < 0.85 ? (endpoint === 'jwks' || endpoint === 'userinfo' ? pick(['get', 'post'] as const) : 'post') : pick(['get', 'put', 'delete', 'patch'] as const);
  const base = random() < 0.05 ? pick(['/w/nope/default/api/v1/oauth', '/w/default/nope/api/v1/oauth', '/w/%ff/x/api/v1/oauth']) : OAUTH;
  const query = random() < 0.1 ? `?${randomForm()}` : '';
  let body = randomForm();
  if (i % 97 === 0) body = `grant_type=client_credentials&pad=${'p'.repeat(70 * 1024)}`;
  if (i % 89 === 0) body = Array.from({ length: 60 }, (_, n) => `p${n}=v`).join('&');
  const contentType = pick([
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'application/x-www-form-urlencoded; charset=latin-7',
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    undefined,
  ]);
  return { method, path: `${base}/${endpoint}${query}`, contentType, body: contentType === 'application/json' && random() < 0.5 ? '{"grant_type":' : body, authorization: randomAuthorization() };
}

async function send(c: Case): Promise<request.Response> {
  let req = request(fx.t.app)[c.method](c.path);
  if (c.authorization !== undefined) req = req.set('Authorization', c.authorization);
  if (c.contentType !== undefined) req = req.set('Content-Type', c.contentType);
  return c.method === 'get' ? req : req.send(c.body ?? '');
}

const CASES = 800;

it(`answers ${CASES} malformed OAuth requests without a 5xx, every error as {error, error_description}`, async () => {
  const cases = Array.from({ length: CASES }, (_, i) => randomCase(i));
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  for (let start = 0; start < cases.length; start += 20) {
    const batch = cases.slice(start, start + 20);
    const responses = await Promise.all(batch.map(send));
    responses.forEach((res, k) => {
      const c = batch[k] as Case;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const describe = `${c.method.toUpperCase()} ${c.path.slice(0, 120)} [${c.contentType}] ${String(c.body).slice(0, 120)} → ${res.status} ${res.text.slice(0, 200)}`;
      if (res.status >= 500) failures.push(describe);
      if (/\bat [\w.<>]+ \(|node_modules|\/src\//.test(res.text)) failures.push(`internals leaked: ${describe}`);
      if (res.status >= 400) {
        const body = res.body as Record<string, unknown>;
        const challenge = String(res.headers['www-authenticate'] ?? '');
        const noCredentials = res.status === 401 && challenge.startsWith('Bearer realm=') && !challenge.includes('error=');
        const keys = noCredentials ? 'error_description' : 'error,error_description';
        const shapeOk = Object.keys(body).sort().join(',') === keys && (noCredentials || typeof body.error === 'string') && typeof body.error_description === 'string';
        if (!shapeOk || !/^application\/json/.test(String(res.headers['content-type']))) failures.push(`bad error body: ${describe}`);
        if (res.headers['cache-control'] !== 'no-store') failures.push(`cacheable error: ${describe}`);
      }
    });
  }
  expect(failures).toEqual([]);
  // The generator reaches the interesting statuses, not only one kind of refusal.
  for (const status of [200, 400, 401, 404, 405, 413]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
});
