/**
 * Malformed input to the browser-facing endpoints (authorize, login, consent, logout): 600 generated requests
 * with random, repeated, oversized, badly encoded and hostile parameters, forms and cookies. None may answer 5xx,
 * every redirect must go to the registered redirect URI or back to this server, and nothing unescaped from the
 * request may appear in a page.
 */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { OAUTH, pkce, putClient, REDIRECT } from './authorize-helpers';
import { seededRandom as prng } from '../helpers/seeded-random';

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
  await putClient(t, 'app');
});
afterAll(async () => t.close());

const HOSTILE = '<script>alert(1)</script>';
const VALUES = [
  '',
  ' ',
  'code',
  'token',
  'app',
  'nobody',
  REDIRECT,
  `${REDIRECT}/../x`,
  'https://evil.example/cb',
  'javascript:alert(1)',
  'openid',
  'openid patient/Observation.rs',
  'S256',
  'plain',
  pkce().challenge,
  'none',
  'login consent',
  '-1',
  '99999999999999999999',
  HOSTILE,
  '"><img src=x>',
  '\u0000\u0001\u001f',
  '😀'.repeat(50),
  'x'.repeat(5000),
  '%',
  '%zz',
  '%E0%A4%A',
  '[object Object]',
  '__proto__',
];
const PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'prompt',
  'max_age',
  'login_hint',
  'request',
  'request_uri',
  'response_mode',
  'launch',
  '__proto__',
  'constructor',
  'interaction',
  'csrf',
  'email',
  'password',
  'decision',
];

function randomQuery(rand: () => number): string {
  const parts: string[] = [];
  const count = Math.floor(rand() * 12);
  for (let i = 0; i < count; i++) {
    const name = PARAMS[Math.floor(rand() * PARAMS.length)] as string;
    const value = VALUES[Math.floor(rand() * VALUES.length)] as string;
    // Some values go raw (possibly invalid percent-encoding), most encoded.
    parts.push(`${encodeURIComponent(name)}=${rand() < 0.2 ? value.replace(/[ #&]/g, '') : encodeURIComponent(value)}`);
  }
  if (rand() < 0.5) parts.push(`client_id=app&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code`);
  return parts.join('&');
}

function randomCookie(rand: () => number): string | undefined {
  const choice = rand();
  if (choice < 0.4) return undefined;
  const value = ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', HOSTILE, '', '%', 'x'.repeat(300)][Math.floor(rand() * 5)] as string;
  return `fhir_session=${value}; fhir_interaction_${value.slice(0, 16)}=${value}`;
}

function checkResponse(res: request.Response, label: string): void {
  if (res.status >= 500) throw new Error(`${label} → ${res.status}: ${res.text.slice(0, 200)}`);
  const location = res.headers.location as string | undefined;
  if (location !== undefined && !location.startsWith(`${REDIRECT}?`) && !location.startsWith(`${OAUTH}/`)) {
    throw new Error(`${label} redirected to ${location}`);
  }
  if (res.text.includes(HOSTILE)) throw new Error(`${label} echoed markup unescaped`);
}

describe('malformed requests to the interaction endpoints', () => {
  it('never answer 5xx, redirect elsewhere or echo markup (600 requests)', async () => {
    const rand = prng(20260401);
    const paths = ['authorize', 'login', 'consent', 'logout'];
    for (let i = 0; i < 600; i++) {
      const path = `${OAUTH}/${paths[i % paths.length] as string}`;
      const query = randomQuery(rand);
      const cookie = randomCookie(rand);
      const post = rand() < 0.5;
      const req = post ? request(t.app).post(path).type(rand() < 0.8 ? 'form' : 'json').send(query) : request(t.app).get(`${path}?${query}`);
      if (cookie !== undefined) req.set('Cookie', cookie);
      checkResponse(await req, `#${i} ${post ? 'POST' : 'GET'} ${path} ${query.slice(0, 120)}`);
    }
  }, 60_000);
});
