/**
 * Failed sign-ins are limited per account and per client IP (LOGIN_MAX_FAILURES within
 * LOGIN_FAILURE_WINDOW_SECONDS): over the limit the login form answers 429 with Retry-After, even for the right
 * password. Runs on a real listener so that requests can come from different loopback addresses.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { authorizeQuery, OAUTH, pkce, putClient, putUser, scrapeForm, validParams } from './authorize-helpers';

let t: TestApp;
let server: http.Server;
let port: number;
const { challenge } = pkce();

beforeAll(async () => {
  t = await buildTestApp({ LOGIN_MAX_FAILURES: '3', LOGIN_FAILURE_WINDOW_SECONDS: '600' });
  await putClient(t, 'app');
  server = t.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One HTTP request from a chosen loopback address. */
function send(from: string, method: string, path: string, cookie: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { cookie };
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const req = http.request({ host: '127.0.0.1', port, method, path, localAddress: from, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a login page from `from` and returns a function that submits credentials on it. */
async function loginForm(from: string): Promise<(email: string, password: string) => Promise<Reply>> {
  const start = await send(from, 'GET', authorizeQuery(validParams(challenge)), '');
  const cookie = String((start.headers['set-cookie'] ?? [])[0]).split(';')[0] ?? '';
  const page = await send(from, 'GET', String(start.headers.location), cookie);
  const { action, fields } = scrapeForm(page.text);
  return (email, password) => send(from, 'POST', action, cookie, new URLSearchParams({ ...fields, email, password }).toString());
}

describe('failed sign-in limits', () => {
  it('blocks an account after LOGIN_MAX_FAILURES failures, from any address, even with the right password', async () => {
    const henry = await putUser(t, 'henry');
    const fromA = await loginForm('127.0.0.2');
    for (let i = 0; i < 3; i++) expect((await fromA(henry.email, `wrong ${i}`)).status).toBe(401);
    const fromB = await loginForm('127.0.0.3');
    const blocked = await fromB(henry.email.toUpperCase(), henry.password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(590);
    expect(blocked.headers['retry-after']).toMatch(/^\d+$/);
    expect(blocked.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(blocked.text).toContain('Too many failed sign-in attempts. Try again in 10 minute(s).');
    expect(blocked.headers['set-cookie']).toBeUndefined();
  });

  it('blocks an address after LOGIN_MAX_FAILURES failures, whatever the account', async () => {
    const ivy = await putUser(t, 'ivy');
    const fromC = await loginForm('127.0.0.4');
    for (const email of ['x1@example.org', 'x2@example.org', 'x3@example.org']) expect((await fromC(email, 'nope')).status).toBe(401);
    expect((await fromC(ivy.email, ivy.password)).status).toBe(429);
    const fromD = await loginForm('127.0.0.5');
    const ok = await fromD(ivy.email, ivy.password);
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toMatch(new RegExp(`^${OAUTH}/consent\\?interaction=`));
  });

  it('clears the account counter after a successful sign-in', async () => {
    const jack = await putUser(t, 'jack');
    const fromE = await loginForm('127.0.0.6');
    for (let i = 0; i < 2; i++) expect((await fromE(jack.email, 'wrong')).status).toBe(401);
    expect((await fromE(jack.email, jack.password)).status).toBe(303);
    const fromF = await loginForm('127.0.0.7');
    for (let i = 0; i < 2; i++) expect((await fromF(jack.email, 'wrong')).status).toBe(401);
    expect((await fromF(jack.email, jack.password)).status).toBe(303);
  });

  it('counts a right password for an inactive account as a failure, exactly like a wrong one', async () => {
    const kim = await putUser(t, 'kim', { active: false });
    const fromG = await loginForm('127.0.0.8');
    for (let i = 0; i < 3; i++) expect((await fromG(kim.email, kim.password)).status).toBe(401);
    expect((await fromG(kim.email, kim.password)).status).toBe(429);
    // The address is blocked too, as after three wrong passwords.
    expect((await fromG('someone@example.org', 'x')).status).toBe(429);
  });
});
