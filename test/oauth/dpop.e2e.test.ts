/**
 * DPoP driven by a standard client library (openid-client 6, which implements RFC 9449) over a real listener:
 * discovery advertises the proof algorithms; a public client exchanges a code with a DPoP key, reads the FHIR API
 * and userinfo with the bound token, refreshes with the same key (another key is refused); introspection shows
 * `cnf.jkt`; client_credentials with each allowed algorithm; and a server requiring nonces, whose
 * `use_dpop_nonce` answers the library follows on its own at the token endpoint and at the FHIR API.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, type KeyLike } from 'jose';
import * as oidc from 'openid-client';
import { jwtClaims } from './dpop-proofs';
import { ADMIN, issueCode, type OAuthFixture, REDIRECT, setupOAuth } from './oauth-fixtures';

const insecure = { execute: [oidc.allowInsecureRequests] };

/** A fixture app behind a real listener on 127.0.0.1. */
async function listening(env: Record<string, string> = {}): Promise<{ fx: OAuthFixture; close: () => Promise<void> }> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const fx = await setupOAuth({ PUBLIC_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...env });
  server.on('request', fx.t.app);
  return {
    fx,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await fx.t.close();
    },
  };
}

async function thumbprint(pair: oidc.CryptoKeyPair): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(pair.publicKey as unknown as KeyLike), 'sha256');
}

describe('openid-client with DPoP', () => {
  let fx: OAuthFixture;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ fx, close } = await listening());
  });
  afterAll(() => close());

  const discover = (clientId: string, auth: oidc.ClientAuth) => oidc.discovery(new URL(fx.issuer), clientId, undefined, auth, insecure);

  it('binds a public client: code exchange, FHIR read, userinfo, refresh with the same key, introspection', async () => {
    const config = await discover('public-app', oidc.None());
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toEqual(['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519']);
    const pair = await oidc.randomDPoPKeyPair('ES256');
    const DPoP = oidc.getDPoPHandle(config, pair);
    const verifier = oidc.randomPKCECodeVerifier();
    const code = await issueCode(fx, await oidc.calculatePKCECodeChallenge(verifier), {
      clientId: 'public-app',
      scope: ['openid', 'fhirUser', 'offline_access', 'user/*.*'],
      userId: fx.adminId,
      membershipId: fx.adminMembershipId,
      nonce: 'n-dpop',
    });
    const callback = new URL(REDIRECT);
    callback.searchParams.set('code', code);
    callback.searchParams.set('iss', fx.issuer);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: 'n-dpop' }, undefined, { DPoP });
    expect(tokens.token_type).toBe('dpop');
    const jkt = await thumbprint(pair);
    expect(jwtClaims(tokens.access_token)).toMatchObject({ cnf: { jkt } });

    const read = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${fx.fhirBaseUrl}/Patient?_count=1`), 'GET', undefined, undefined, { DPoP });
    expect(read.status).toBe(200);
    // Without the key the token is useless: the library sends it as Bearer and the server refuses.
    await expect(oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${fx.fhirBaseUrl}/Patient`), 'GET')).rejects.toMatchObject({
      response: expect.objectContaining({ status: 401 }),
    });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, `User/${fx.adminId}`, { DPoP });
    expect(info.sub).toBe(`User/${fx.adminId}`);

    const otherKey = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string, undefined, { DPoP: otherKey })).rejects.toMatchObject({ error: 'invalid_dpop_proof' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, undefined, { DPoP });
    expect(refreshed.token_type).toBe('dpop');
    expect(jwtClaims(refreshed.access_token)).toMatchObject({ cnf: { jkt } });

    const admin = await discover(ADMIN[0], oidc.ClientSecretBasic(ADMIN[1]));
    expect(await oidc.tokenIntrospection(admin, refreshed.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt }, client_id: 'public-app' });
  });

  it.each(['ES256', 'RS256', 'PS256', 'Ed25519'])('gets and uses a client_credentials token bound to an %s key', async (alg) => {
    const config = await discover(ADMIN[0], oidc.ClientSecretBasic(ADMIN[1]));
    const pair = await oidc.randomDPoPKeyPair(alg);
    const DPoP = oidc.getDPoPHandle(config, pair);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'system/*.*' }, { DPoP });
    expect(tokens.token_type).toBe('dpop');
    expect(jwtClaims(tokens.access_token)).toMatchObject({ cnf: { jkt: await thumbprint(pair) } });
    const res = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${fx.fhirBaseUrl}/Patient`), 'GET', undefined, undefined, { DPoP });
    expect(res.status).toBe(200);
  });
});

describe('openid-client with DPoP against a server that requires nonces', () => {
  let fx: OAuthFixture;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ fx, close } = await listening({ DPOP_REQUIRE_NONCE: 'true' }));
  });
  afterAll(() => close());

  it('follows use_dpop_nonce at the token endpoint and at the FHIR API', async () => {
    const config = await oidc.discovery(new URL(fx.issuer), ADMIN[0], undefined, oidc.ClientSecretBasic(ADMIN[1]), insecure);
    const seen: Array<{ status: number; nonce: string | null }> = [];
    const fetchAndRecord: typeof fetch = async (...args) => {
      const res = await fetch(...args);
      seen.push({ status: res.status, nonce: res.headers.get('dpop-nonce') });
      return res;
    };
    config[oidc.customFetch] = fetchAndRecord;
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'system/*.*' }, { DPoP });
    expect(tokens.token_type).toBe('dpop');
    // First the server's nonce (400 use_dpop_nonce), then the token.
    expect(seen.map((s) => s.status)).toEqual([400, 200]);
    expect(seen[0]?.nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const res = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${fx.fhirBaseUrl}/Patient`), 'GET', undefined, undefined, { DPoP });
    expect(res.status).toBe(200);
    // The library reused the nonce it had: no extra round trip, and the answer carries the current nonce.
    expect(seen.slice(2)).toEqual([{ status: 200, nonce: seen[0]?.nonce }]);
  });
});
