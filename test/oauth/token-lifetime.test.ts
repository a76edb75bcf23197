/**
 * Access tokens whose times this server cannot have issued are refused with 401 invalid_token (RFC 6750 §3.1), even
 * when their signature is genuine: a lifetime over the longest one a client can be given (24 h), an `iat` in the
 * future beyond the clock skew, an `nbf` in the future, and a token signed by a retired key after its retirement.
 * The tokens are signed with the project's real keys, read through its key store, as someone holding a stolen key
 * would sign them.
 */
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { decodeJwt, SignJWT } from 'jose';
import request from 'supertest';
import { buildApp } from '../../src/app';
import { createLogger } from '../../src/logger';
import { KeyStore, type SigningKey } from '../../src/oauth/tokens/keys';
import { FHIR, type OAuthFixture, oauthPost, ADMIN, PROJECT, setupOAuth } from './oauth-fixtures';

let fx: OAuthFixture;
let keys: KeyStore;
beforeAll(async () => {
  fx = await setupOAuth();
  keys = new KeyStore(fx.t.storage.records, fx.t.keyEncryption);
});
afterAll(async () => {
  await fx.t.close();
});

const now = (): number => Math.floor(Date.now() / 1000);
const HOUR = 3600;

/** An access token with the admin token's claims and the given times, signed with `key`. */
async function mint(key: SigningKey, times: { iat: number; exp: number; nbf?: number }): Promise<string> {
  const claims = { ...decodeJwt(fx.t.adminToken), jti: randomUUID(), ...times };
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
}

const read = (app: Express, token: string) => request(app).get(`${FHIR}/Patient`).set('Authorization', `Bearer ${token}`);

function expectInvalidToken(res: request.Response, description: string): void {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe(`Bearer realm="${fx.issuer}", error="invalid_token", error_description="${description}"`);
  expect(res.body).toEqual({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: description }] });
}

describe('lifetime and issue time', () => {
  it('refuses a one-year token signed with the active key, and accepts lifetimes up to 24 h', async () => {
    const key = await keys.activeKey(PROJECT);
    expectInvalidToken(await read(fx.t.app, await mint(key, { iat: now(), exp: now() + 365 * 24 * HOUR })), 'The access token lives longer than this server issues tokens for');
    expectInvalidToken(await read(fx.t.app, await mint(key, { iat: now() - 60, exp: now() + 24 * HOUR })), 'The access token lives longer than this server issues tokens for');
    expect((await read(fx.t.app, await mint(key, { iat: now(), exp: now() + 24 * HOUR }))).status).toBe(200);
    expect((await read(fx.t.app, await mint(key, { iat: now(), exp: now() + HOUR }))).status).toBe(200);
  });

  it('refuses an iat in the future beyond the 60 s clock skew', async () => {
    const key = await keys.activeKey(PROJECT);
    expectInvalidToken(await read(fx.t.app, await mint(key, { iat: now() + 600, exp: now() + 900 })), 'The access token is issued in the future');
    expectInvalidToken(await read(fx.t.app, await mint(key, { iat: now() + 120, exp: now() + HOUR })), 'The access token is issued in the future');
    expect((await read(fx.t.app, await mint(key, { iat: now() + 30, exp: now() + HOUR }))).status).toBe(200);
  });

  it('honours nbf', async () => {
    const key = await keys.activeKey(PROJECT);
    expectInvalidToken(await read(fx.t.app, await mint(key, { iat: now(), nbf: now() + 600, exp: now() + HOUR })), 'The access token is invalid or expired');
    expect((await read(fx.t.app, await mint(key, { iat: now(), nbf: now() - 5, exp: now() + HOUR }))).status).toBe(200);
  });

  it('reports such a token inactive at introspection', async () => {
    const token = await mint(await keys.activeKey(PROJECT), { iat: now(), exp: now() + 365 * 24 * HOUR });
    const res = await oauthPost(fx.t, 'introspect', { token }, ADMIN);
    expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 200, body: { active: false } });
  });
});

describe('a key rotated out', () => {
  it('verifies what it signed before its retirement and refuses what it signed after', async () => {
    const old = await keys.activeKey(PROJECT);
    await keys.rotate(PROJECT);
    // As if the rotation had happened 10 minutes ago (far beyond the grace for instances that had not reloaded).
    const retiredAt = Date.now() - 10 * 60_000;
    const [record] = (await fx.t.storage.records.find('signing-key', { project: PROJECT })).filter((r) => r.value.kid === old.kid);
    if (!record) throw new Error('the retired key record is missing');
    expect(record.value.retiredAt).toEqual(expect.any(String));
    await fx.t.storage.records.put({ ...record, value: { ...record.value, retiredAt: new Date(retiredAt).toISOString() } });
    // An instance started after the rotation, sharing the store.
    const instance = buildApp({ config: fx.t.config, storage: fx.t.storage, logger: createLogger('silent'), projects: fx.t.projects, keyEncryption: fx.t.keyEncryption });
    const retired = Math.floor(retiredAt / 1000);

    expect((await read(instance, await mint(old, { iat: retired - 5 * 60, exp: now() + 5 * 60 }))).status).toBe(200);
    expectInvalidToken(await read(instance, await mint(old, { iat: retired + 5 * 60, exp: now() + 5 * 60 })), 'The access token was signed with a retired key after its retirement');
    expectInvalidToken(await read(instance, await mint(old, { iat: now(), exp: now() + 5 * 60 })), 'The access token was signed with a retired key after its retirement');
    // Backdating iat to before the retirement does not buy a long life: the 24 h cap still applies.
    expectInvalidToken(await read(instance, await mint(old, { iat: retired - 60, exp: retired + 2 * 24 * HOUR })), 'The access token lives longer than this server issues tokens for');
    expect((await read(instance, await mint(await keys.activeKey(PROJECT), { iat: now(), exp: now() + 5 * 60 }))).status).toBe(200);
  });
});
