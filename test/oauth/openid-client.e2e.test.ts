/**
 * The authorization server driven by a standard client library (openid-client 6) over a real listener:
 * discovery; client_credentials with a client secret and with private_key_jwt; the authorization_code grant
 * (codes issued as /authorize issues them after consent; the browser side is in authorize-openid-client.test.ts)
 * with the id_token validated against the JWKS; refresh rotation; introspection; revocation; userinfo; and the
 * README walk-through: the admin client registers a ClientApplication through the FHIR API and the new client
 * gets a token at once.
 */
import { webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { ADMIN, issueCode, type OAuthFixture, REDIRECT, setupOAuth, WEB } from './oauth-fixtures';

let fx: OAuthFixture;
const server = http.createServer();
let issuer = '';
const insecure = { execute: [oidc.allowInsecureRequests] };

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  fx = await setupOAuth({ PUBLIC_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  server.on('request', fx.t.app);
  issuer = fx.issuer;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await fx.t.close();
});

const discover = (clientId: string, auth: oidc.ClientAuth) => oidc.discovery(new URL(issuer), clientId, undefined, auth, insecure);

describe('openid-client against the server', () => {
  it('discovers the issuer and gets a client_credentials token with a client secret', async () => {
    const config = await discover(ADMIN[0], oidc.ClientSecretBasic(ADMIN[1]));
    expect(config.serverMetadata().issuer).toBe(issuer);
    expect(config.serverMetadata().code_challenge_methods_supported).toEqual(['S256']);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'system/*.*' });
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'system/*.*', expires_in: 300 });
    const res = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${fx.fhirBaseUrl}/Patient?_count=1`), 'GET');
    expect(res.status).toBe(200);
  });

  it('gets a client_credentials token with private_key_jwt', async () => {
    const { publicKey, privateKey } = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const jwk = { ...(await webcrypto.subtle.exportKey('jwk', publicKey)), kid: 'e2e-key', alg: 'ES256', use: 'sig' };
    await fx.repo.update('ClientApplication', 'backend-service', {
      resourceType: 'ClientApplication',
      id: 'backend-service',
      name: 'Backend service',
      status: 'active',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: JSON.stringify({ keys: [jwk] }),
      scope: 'system/*.*',
    });
    const key = privateKey as unknown as oidc.CryptoKey;
    const config = await discover('backend-service', oidc.PrivateKeyJwt({ key, kid: 'e2e-key' }));
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.scope).toBe('system/*.*');
    // Addressed to the token endpoint URL instead of the issuer (SMART Backend Services, OIDC Core §9).
    const toTokenEndpoint = oidc.PrivateKeyJwt({ key, kid: 'e2e-key' }, {
      [oidc.modifyAssertion]: (_header: Record<string, unknown>, payload: Record<string, unknown>) => {
        payload.aud = `${issuer}/api/v1/oauth/token`;
      },
    });
    expect((await oidc.clientCredentialsGrant(await discover('backend-service', toTokenEndpoint))).scope).toBe('system/*.*');
    const introspection = await oidc.tokenIntrospection(await discover(ADMIN[0], oidc.ClientSecretBasic(ADMIN[1])), tokens.access_token);
    expect(introspection).toMatchObject({ active: true, client_id: 'backend-service', sub: 'backend-service' });
  });

  it('exchanges a code, validates the id_token against the JWKS, refreshes, reads userinfo, introspects and revokes', async () => {
    const config = await discover(WEB[0], oidc.ClientSecretBasic(WEB[1]));
    oidc.enableNonRepudiationChecks(config);
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const code = await issueCode(fx, await oidc.calculatePKCECodeChallenge(verifier), {
      nonce,
      scope: ['openid', 'fhirUser', 'profile', 'email', 'offline_access', 'user/*.*'],
      userId: fx.adminId,
      membershipId: fx.adminMembershipId,
    });
    const callback = new URL(REDIRECT);
    callback.searchParams.set('code', code);
    callback.searchParams.set('iss', issuer);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    const claims = tokens.claims();
    expect(claims).toMatchObject({ iss: issuer, aud: 'web-app', sub: `User/${fx.adminId}`, nonce });
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
    await expect(jwtVerify(tokens.id_token as string, jwks, { issuer, audience: 'web-app' })).resolves.toBeDefined();

    const info = await oidc.fetchUserInfo(config, tokens.access_token, `User/${fx.adminId}`);
    expect(info).toEqual({ sub: `User/${fx.adminId}`, email: 'admin2@example.com', email_verified: false, name: 'Ada Lovelace' });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()?.sub).toBe(`User/${fx.adminId}`);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Reuse revoked the family: the rotated tokens are dead too.
    expect(await oidc.tokenIntrospection(config, refreshed.access_token)).toEqual({ active: false });

    const second = await issueCode(fx, await oidc.calculatePKCECodeChallenge(verifier), { nonce, userId: fx.adminId, membershipId: fx.adminMembershipId });
    callback.searchParams.set('code', second);
    const more = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    expect((await oidc.tokenIntrospection(config, more.access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, more.refresh_token as string);
    expect(await oidc.tokenIntrospection(config, more.access_token)).toEqual({ active: false });
    await expect(oidc.fetchProtectedResource(config, more.access_token, new URL(`${fx.fhirBaseUrl}/Patient`), 'GET')).rejects.toMatchObject({
      response: expect.objectContaining({ status: 401 }),
    });
  });

  it('registers a client through the FHIR API with the admin token; the new client gets a token at once', async () => {
    const admin = await oidc.clientCredentialsGrant(await discover(ADMIN[0], oidc.ClientSecretBasic(ADMIN[1])));
    const created = await fetch(`${fx.fhirBaseUrl}/ClientApplication`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin.access_token}`, 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'ClientApplication',
        name: 'Reporting job',
        status: 'active',
        grantType: ['client_credentials'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        scope: 'system/*.*',
      }),
    });
    expect(created.status).toBe(201);
    const client = (await created.json()) as { id: string; secret: string };
    expect(typeof client.secret).toBe('string');
    const tokens = await oidc.clientCredentialsGrant(await discover(client.id, oidc.ClientSecretBasic(client.secret)));
    expect(tokens.scope).toBe('system/*.*');
  });
});
