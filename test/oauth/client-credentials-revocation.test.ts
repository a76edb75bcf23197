/**
 * client_credentials access tokens are their own grant (no grant record is stored when they are issued): they
 * introspect and authenticate like any other token, and their revocation is stored, refused by the FHIR API and
 * introspection alike, kept until the token expires, and survives a restart of the server on the same data.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { prepareKeysAtRest } from '../../src/oauth/tokens/keys-at-rest';
import { bootstrap } from '../../src/seed/bootstrap';
import { openStorage } from '../../src/storage/open';
import type { Storage } from '../../src/storage/ports';
import { ProjectRegistry } from '../../src/tenancy/projects';

const OAUTH = '/w/default/default/api/v1/oauth';
const FHIR = '/w/default/default/api/v1/fhir/r4';
const ADMIN: [string, string] = ['admin-cli', 'admin-client-secret-for-tests'];
const BACKEND: [string, string] = ['backend-service', 'backend-service-secret-0123456789'];

/** The real server over a data directory, as `npm start` opens it. */
async function openServer(dataDir: string): Promise<{ app: ReturnType<typeof buildApp>; storage: Storage }> {
  const config = loadConfig({
    PORT: '0',
    PUBLIC_URL: 'https://fhir.example.test',
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: 'correct horse battery staple',
    ADMIN_CLIENT_SECRET: ADMIN[1],
    LOG_LEVEL: 'silent',
  });
  const logger = createLogger('silent');
  const storage = await openStorage({ dataDir, logger });
  const projects = new ProjectRegistry(storage.records);
  const { encryption } = await prepareKeysAtRest(config, storage, logger);
  await bootstrap(config, storage, projects);
  return { app: buildApp({ config, storage, logger, projects, keyEncryption: encryption }), storage };
}

let dataDir: string;
let server: { app: ReturnType<typeof buildApp>; storage: Storage };
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-cc-revocation-'));
  server = await openServer(dataDir);
  // A backend service whose tokens outlive the one-hour minimum of a revocation placeholder.
  await new FhirRepository(server.storage.resources, 'default/default').update('ClientApplication', BACKEND[0], {
    resourceType: 'ClientApplication',
    id: BACKEND[0],
    name: 'Backend service',
    status: 'active',
    grantType: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: BACKEND[1],
    scope: 'system/Patient.read',
    accessTokenLifetime: 7200,
  });
});
afterAll(async () => {
  await server.storage.close();
  await rm(dataDir, { recursive: true, force: true });
});

const post = (endpoint: string, form: Record<string, string>, auth: [string, string]) =>
  request(server.app).post(`${OAUTH}/${endpoint}`).auth(auth[0], auth[1]).type('form').send(form);
const issue = async (auth: [string, string] = ADMIN): Promise<string> => {
  const res = await post('token', { grant_type: 'client_credentials' }, auth);
  expect(res.status).toBe(200);
  return res.body.access_token as string;
};
const introspect = (token: string) => post('introspect', { token }, ADMIN);
const revoke = (token: string, auth: [string, string] = ADMIN) => post('revoke', { token }, auth);
const read = (token: string) => request(server.app).get(`${FHIR}/Patient`).set('Authorization', `Bearer ${token}`);

describe('client_credentials tokens without a stored grant', () => {
  it('stores no grant when issuing, and the token introspects active and reads', async () => {
    const token = await issue();
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ grant_stored: false, client_id: 'admin-cli' });
    expect(claims.grant_id).toBe(claims.jti);
    expect(await server.storage.records.get('grant', claims.grant_id as string)).toBeUndefined();
    expect((await introspect(token)).body).toMatchObject({ active: true, client_id: 'admin-cli', jti: claims.jti });
    expect((await read(token)).status).toBe(200);
  });

  it('a revoked token introspects inactive and is refused, while another token of the same client still works', async () => {
    const revoked = await issue();
    const kept = await issue();
    expect((await read(revoked)).status).toBe(200);
    expect((await revoke(revoked)).status).toBe(200);
    expect((await introspect(revoked)).text).toBe('{"active":false}');
    const refused = await read(revoked);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect((await introspect(kept)).body.active).toBe(true);
    expect((await read(kept)).status).toBe(200);
    // Revoking again changes nothing.
    expect((await revoke(revoked)).status).toBe(200);
    expect((await read(revoked)).status).toBe(401);
  });

  it('ignores the revocation of another client\'s token', async () => {
    const token = await issue();
    expect((await revoke(token, BACKEND)).status).toBe(200);
    expect((await introspect(token)).body.active).toBe(true);
    expect((await read(token)).status).toBe(200);
  });

  it('keeps the revocation until the token expires, even past an hour', async () => {
    const token = await issue(BACKEND);
    const { exp, grant_id: grantId } = decodeJwt(token) as { exp: number; grant_id: string };
    expect(exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(3600);
    expect((await revoke(token, BACKEND)).status).toBe(200);
    const record = await server.storage.records.get('grant', grantId);
    expect(record?.value.revokedAt).toEqual(expect.any(String));
    expect(Date.parse(record?.expiresAt as string)).toBeGreaterThanOrEqual(exp * 1000);
    expect((await read(token)).status).toBe(401);
  });

  it('a revocation survives a restart: the token stays refused and inactive, an unrevoked one still works', async () => {
    const revoked = await issue();
    const kept = await issue();
    expect((await revoke(revoked)).status).toBe(200);
    await server.storage.close();
    server = await openServer(dataDir);
    expect((await read(revoked)).status).toBe(401);
    expect((await introspect(revoked)).text).toBe('{"active":false}');
    expect((await read(kept)).status).toBe(200);
    expect((await introspect(kept)).body.active).toBe(true);
  });
});
