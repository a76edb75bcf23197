/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9) with DPOP_REQUIRE_NONCE: a proof without the server's nonce is
 * `use_dpop_nonce` with the nonce in `DPoP-Nonce` (400 at the token endpoint, 401 with a `DPoP` challenge at the
 * FHIR API), a proof with it is accepted and the answer carries the current nonce; nonces rotate every
 * DPOP_NONCE_LIFETIME_SECONDS, the previous one stays good for one more period, and instances sharing the store
 * agree on them.
 */
import request from 'supertest';
import { DpopNonces } from '../../src/oauth/dpop/nonces';
import { ath, dpopProof, proofKey, type ProofKey } from './dpop-proofs';
import { ADMIN, expectOAuthError, FHIR, OAUTH, type OAuthFixture, setupOAuth } from './oauth-fixtures';

let fx: OAuthFixture;
let key: ProofKey;
let tokenUrl: string;

beforeAll(async () => {
  fx = await setupOAuth({ DPOP_REQUIRE_NONCE: 'true', DPOP_NONCE_LIFETIME_SECONDS: '60' });
  key = await proofKey();
  tokenUrl = `${fx.issuer}/api/v1/oauth/token`;
});
afterAll(() => fx.t.close());
afterEach(() => jest.restoreAllMocks());

const tokenRequest = (proof: string) =>
  request(fx.t.app).post(`${OAUTH}/token`).type('form').auth(ADMIN[0], ADMIN[1]).set('DPoP', proof).send({ grant_type: 'client_credentials', scope: 'system/*.*' });

describe('DPoP nonces', () => {
  it('asks for its nonce at the token endpoint, then at the FHIR API, and accepts proofs carrying it', async () => {
    const first = await tokenRequest(await dpopProof(key, { htm: 'POST', htu: tokenUrl }));
    expectOAuthError(first, 400, 'use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expectOAuthError(await tokenRequest(await dpopProof(key, { htm: 'POST', htu: tokenUrl, nonce: 'made-up' })), 400, 'use_dpop_nonce');

    const issued = await tokenRequest(await dpopProof(key, { htm: 'POST', htu: tokenUrl, nonce }));
    expect(issued.status).toBe(200);
    expect(issued.body.token_type).toBe('DPoP');
    expect(issued.headers['dpop-nonce']).toBe(nonce);

    const token = issued.body.access_token as string;
    const read = (proof: string) => request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', `DPoP ${token}`).set('DPoP', proof);
    const claims = { htm: 'GET', htu: `${fx.fhirBaseUrl}/Patient`, ath: ath(token) };
    const refused = await read(await dpopProof(key, claims));
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="${fx.issuer}", error="use_dpop_nonce", error_description="[^"]+", algs="[^"]+"$`));
    expect(refused.headers['dpop-nonce']).toBe(nonce);
    expect(refused.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    const ok = await read(await dpopProof(key, { ...claims, nonce }));
    expect(ok.status).toBe(200);
    expect(ok.headers['dpop-nonce']).toBe(nonce);
    // CORS: a browser app may send DPoP and read DPoP-Nonce.
    expect((await request(fx.t.app).get(`${FHIR}/metadata`).set('Origin', 'https://app.example')).headers['access-control-expose-headers']).toMatch(/DPoP-Nonce/);
  });

  it('rotates: the previous nonce is accepted for one more period, and instances sharing the store agree', async () => {
    const records = fx.t.storage.records;
    const one = new DpopNonces(records, 60);
    const other = new DpopNonces(records, 60);
    const start = Math.ceil(Date.now() / 60_000) * 60_000 + 1000;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(start);
    const first = await one.current('default/default');
    expect(await other.current('default/default')).toBe(first);
    expect(await other.current('other/project')).not.toBe(first);
    clock.mockReturnValue(start + 60_000);
    const second = await other.current('default/default');
    expect(second).not.toBe(first);
    expect(await one.current('default/default')).toBe(second);
    expect(await one.accepts('default/default', first)).toBe(true);
    expect(await one.accepts('default/default', second)).toBe(true);
    expect(await one.accepts('default/default', undefined)).toBe(false);
    clock.mockReturnValue(start + 120_000);
    expect(await one.accepts('default/default', first)).toBe(false);
    expect(await one.accepts('default/default', second)).toBe(true);
  });
});
