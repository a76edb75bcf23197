/**
 * DPoP refusals with hand-built proofs (RFC 9449): at the token endpoint every malformed, misdirected, stale,
 * replayed or wrongly keyed proof is 400 `invalid_dpop_proof`; at the FHIR API and userinfo a DPoP-bound token
 * sent as Bearer, a proof of another key (a captured token replayed by someone else), a wrong `ath`, a replayed or
 * missing proof are 401 with a `DPoP` challenge. A public client's refresh token is held to its key; a
 * confidential client's is not, but its new access token is bound to the proof's key.
 */
import request from 'supertest';
import { ath, dpopProof, hs256Proof, jwtClaims, proofKey, type ProofKey } from './dpop-proofs';
import { ADMIN, codeTokens, expectOAuthError, FHIR, issueCode, OAUTH, type OAuthFixture, pkce, REDIRECT, setupOAuth } from './oauth-fixtures';

let fx: OAuthFixture;
let tokenUrl: string;
let keyA: ProofKey;
let keyB: ProofKey;

beforeAll(async () => {
  fx = await setupOAuth();
  tokenUrl = `${fx.issuer}/api/v1/oauth/token`;
  [keyA, keyB] = await Promise.all([proofKey('ES256'), proofKey('ES256')]);
});
afterAll(() => fx.t.close());

const CLIENT_CREDENTIALS = { grant_type: 'client_credentials', scope: 'system/*.*' };

/** A client_credentials request of the admin client with a DPoP header. */
function adminToken(proof: string | undefined): request.Test {
  const req = request(fx.t.app).post(`${OAUTH}/token`).type('form').auth(ADMIN[0], ADMIN[1]);
  if (proof !== undefined) req.set('DPoP', proof);
  return req.send(CLIENT_CREDENTIALS);
}

/** A DPoP-bound admin token for a key. */
async function boundToken(key: ProofKey): Promise<string> {
  const res = await adminToken(await dpopProof(key, { htm: 'POST', htu: tokenUrl }));
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** A FHIR read of Patient with a DPoP token and a proof (or none). */
function fhirRead(token: string, proof: string | undefined, path = '/Patient'): request.Test {
  const req = request(fx.t.app).get(`${FHIR}${path}`).set('Authorization', `DPoP ${token}`);
  return proof === undefined ? req : req.set('DPoP', proof);
}

function expectDpopChallenge(res: request.Response, error: string): void {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="${fx.issuer}", error="${error}", error_description="[^"]+", algs="ES256 RS256 PS256 EdDSA Ed25519"$`));
}

function expectFhir401(res: request.Response, error: string): void {
  expectDpopChallenge(res, error);
  expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
}

describe('DPoP at the token endpoint', () => {
  it('issues a DPoP token bound to the thumbprint of the proof key, accepting an htu with a query', async () => {
    const res = await adminToken(await dpopProof(keyA, { htm: 'POST', htu: `${tokenUrl}?ignored=1#and-this` }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'DPoP', scope: 'system/*.*' });
    expect(jwtClaims(res.body.access_token)).toMatchObject({ cnf: { jkt: keyA.jkt } });
    // Without a proof the same client still gets a plain bearer token (dpopBoundAccessTokens is not set).
    const plain = await adminToken(undefined);
    expect(plain.body.token_type).toBe('Bearer');
    expect(jwtClaims(plain.body.access_token).cnf).toBeUndefined();
  });

  it('accepts a proof signed with EdDSA (the name before RFC 9864) as with Ed25519', async () => {
    const key = await proofKey('EdDSA');
    const res = await adminToken(await dpopProof(key, { htm: 'POST', htu: tokenUrl }));
    expect(res.status).toBe(200);
    expect(jwtClaims(res.body.access_token)).toMatchObject({ cnf: { jkt: key.jkt } });
  });

  it.each([
    ['a wrong htu', () => dpopProof(keyA, { htm: 'POST', htu: `${fx.issuer}/api/v1/oauth/introspect` }), /htu does not match/],
    ['an htu on another host', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl.replace('://', '://evil.') }), /htu does not match/],
    ['a wrong htm', () => dpopProof(keyA, { htm: 'GET', htu: tokenUrl }), /htm does not match/],
    ['a stale iat', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl, iat: Math.floor(Date.now() / 1000) - 300 }), /iat is more than 60 seconds/],
    ['an iat in the future', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl, iat: Math.floor(Date.now() / 1000) + 300 }), /iat is more than 60 seconds/],
    ['no jti', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl, jti: undefined }), /jti/],
    ['typ JWT', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl }, { typ: 'JWT' }), /typ dpop\+jwt/],
    ['a private key in the jwk header', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl }, { jwk: keyA.privateJwk }), /must be a public key/],
    ['a jwk of another key than the signature', () => dpopProof(keyA, { htm: 'POST', htu: tokenUrl }, { jwk: keyB.publicJwk }), /signature could not be verified/],
    ['ES384, not in the allow-list', async () => dpopProof(await proofKey('ES384'), { htm: 'POST', htu: tokenUrl }), /signed with one of ES256, RS256, PS256, EdDSA, Ed25519/],
    ['a symmetric alg (HS256)', () => hs256Proof({ htm: 'POST', htu: tokenUrl }), /signed with one of/],
    ['an RSA jwk with a huge public exponent', async () => {
      const rsa = await proofKey('RS256');
      return dpopProof(rsa, { htm: 'POST', htu: tokenUrl }, { jwk: { ...rsa.publicJwk, e: `${'A'.repeat(4000)}Q` } });
    }, /at most 4096 bits with a small public exponent/],
    ['two proofs', async () => `${await dpopProof(keyA, { htm: 'POST', htu: tokenUrl })}, ${await dpopProof(keyA, { htm: 'POST', htu: tokenUrl })}`, /exactly one proof/],
    ['garbage', async () => 'not-a-jwt', /exactly one proof/],
  ])('refuses a proof with %s: 400 invalid_dpop_proof', async (_name, build, description) => {
    const res = await adminToken(await build());
    expectOAuthError(res, 400, 'invalid_dpop_proof');
    expect(res.body.error_description).toMatch(description);
  });

  it('refuses a replayed proof (jti single use)', async () => {
    const proof = await dpopProof(keyA, { htm: 'POST', htu: tokenUrl });
    expect((await adminToken(proof)).status).toBe(200);
    const replay = await adminToken(proof);
    expectOAuthError(replay, 400, 'invalid_dpop_proof');
    expect(replay.body.error_description).toMatch(/already used/);
  });

  it('records a proof only once its client has authenticated: a refused client leaves it usable', async () => {
    const proof = await dpopProof(keyA, { htm: 'POST', htu: tokenUrl });
    const stranger = await request(fx.t.app).post(`${OAUTH}/token`).type('form').auth(ADMIN[0], 'not-the-secret-0123456789').set('DPoP', proof).send(CLIENT_CREDENTIALS);
    expectOAuthError(stranger, 401, 'invalid_client');
    expect((await adminToken(proof)).status).toBe(200);
    expectOAuthError(await adminToken(proof), 400, 'invalid_dpop_proof');
  });

  it('requires a proof from a client registered with dpopBoundAccessTokens', async () => {
    await fx.repo.update('ClientApplication', 'dpop-only', {
      resourceType: 'ClientApplication',
      id: 'dpop-only',
      name: 'DPoP only',
      status: 'active',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: 'dpop-only-secret-0123456789',
      scope: 'system/*.*',
      dpopBoundAccessTokens: true,
    });
    const send = (proof?: string) => {
      const req = request(fx.t.app).post(`${OAUTH}/token`).type('form').auth('dpop-only', 'dpop-only-secret-0123456789');
      return (proof ? req.set('DPoP', proof) : req).send(CLIENT_CREDENTIALS);
    };
    const refused = await send();
    expectOAuthError(refused, 400, 'invalid_dpop_proof');
    expect(refused.body.error_description).toBe('This client must send a DPoP proof with every token request');
    const ok = await send(await dpopProof(keyA, { htm: 'POST', htu: tokenUrl }));
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('DPoP');
  });
});

describe('DPoP-bound tokens at the FHIR API', () => {
  let token: string;
  beforeAll(async () => {
    token = await boundToken(keyA);
  });
  const readProof = (key: ProofKey, claims: Record<string, unknown> = {}) =>
    dpopProof(key, { htm: 'GET', htu: `${fx.fhirBaseUrl}/Patient`, ath: ath(token), ...claims });

  it('accepts the token with a proof of its key (the request query is not part of htu)', async () => {
    const res = await fhirRead(token, await readProof(keyA), '/Patient?_count=1');
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
  });

  it('refuses the bound token sent as Bearer: 401 invalid_token with a DPoP challenge', async () => {
    const res = await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', `Bearer ${token}`);
    expectFhir401(res, 'invalid_token');
    expect(res.body.issue[0].diagnostics).toBe('The access token is bound to a DPoP key: present it with the DPoP scheme and a proof');
  });

  it('refuses the captured token replayed with a proof of another key', async () => {
    const res = await fhirRead(token, await readProof(keyB));
    expectFhir401(res, 'invalid_dpop_proof');
    expect(res.body.issue[0].diagnostics).toBe('The DPoP proof is signed by another key than the one the access token is bound to');
  });

  it.each([
    ['no proof', async () => undefined, /A DPoP proof is required/],
    ['a wrong ath', () => readProof(keyA, { ath: ath(`${token}x`) }), /ath does not match/],
    ['no ath', () => readProof(keyA, { ath: undefined }), /ath does not match/],
    ['a wrong htu', () => readProof(keyA, { htu: `${fx.fhirBaseUrl}/Observation` }), /htu does not match/],
    ['a wrong htm', () => readProof(keyA, { htm: 'POST' }), /htm does not match/],
    ['a stale iat', () => readProof(keyA, { iat: Math.floor(Date.now() / 1000) - 120 }), /iat is more than/],
    ['a symmetric alg (HS256)', () => hs256Proof({ htm: 'GET', htu: `${fx.fhirBaseUrl}/Patient`, ath: ath(token) }), /signed with one of/],
  ])('refuses %s: 401 invalid_dpop_proof', async (_name, build, description) => {
    const res = await fhirRead(token, await build());
    expectFhir401(res, 'invalid_dpop_proof');
    expect(res.body.issue[0].diagnostics).toMatch(description);
  });

  it('refuses a replayed resource proof', async () => {
    const proof = await readProof(keyA);
    expect((await fhirRead(token, proof)).status).toBe(200);
    expectFhir401(await fhirRead(token, proof), 'invalid_dpop_proof');
  });

  it('refuses an unbound token sent with the DPoP scheme', async () => {
    const plain = (await adminToken(undefined)).body.access_token as string;
    const res = await fhirRead(plain, await dpopProof(keyA, { htm: 'GET', htu: `${fx.fhirBaseUrl}/Patient`, ath: ath(plain) }));
    expectFhir401(res, 'invalid_token');
    // The same token as Bearer works: a request without DPoP is unchanged.
    expect((await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', `Bearer ${plain}`)).status).toBe(200);
  });
});

describe('DPoP at userinfo and refresh', () => {
  it('answers userinfo for a bound token with a proof; refuses it as Bearer', async () => {
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge, { userId: fx.adminId, membershipId: fx.adminMembershipId });
    const res = await request(fx.t.app).post(`${OAUTH}/token`).type('form').auth('web-app', 'web-app-secret-0123456789')
      .set('DPoP', await dpopProof(keyA, { htm: 'POST', htu: tokenUrl }))
      .send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    const userinfoUrl = `${fx.issuer}/api/v1/oauth/userinfo`;
    const ok = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `DPoP ${token}`)
      .set('DPoP', await dpopProof(keyA, { htm: 'GET', htu: userinfoUrl, ath: ath(token) }));
    expect(ok.status).toBe(200);
    expect(ok.body.sub).toBe(`User/${fx.adminId}`);
    const asBearer = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${token}`);
    expectDpopChallenge(asBearer, 'invalid_token');
    expect(asBearer.body).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
    const otherKey = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `DPoP ${token}`)
      .set('DPoP', await dpopProof(keyB, { htm: 'GET', htu: userinfoUrl, ath: ath(token) }));
    expectDpopChallenge(otherKey, 'invalid_dpop_proof');

    // web-app is confidential: its refresh token is not bound; the new access token is bound to the new proof's key.
    const refreshed = await request(fx.t.app).post(`${OAUTH}/token`).type('form').auth('web-app', 'web-app-secret-0123456789')
      .set('DPoP', await dpopProof(keyB, { htm: 'POST', htu: tokenUrl }))
      .send({ grant_type: 'refresh_token', refresh_token: res.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.token_type).toBe('DPoP');
    expect(jwtClaims(refreshed.body.access_token)).toMatchObject({ cnf: { jkt: keyB.jkt } });
    const plain = await request(fx.t.app).post(`${OAUTH}/token`).type('form').auth('web-app', 'web-app-secret-0123456789')
      .send({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
    expect(plain.status).toBe(200);
    expect(plain.body.token_type).toBe('Bearer');
  });

  it('starts an EHR launch with a DPoP-bound user token and its proof; refuses it as Bearer', async () => {
    await fx.repo.update('ClientApplication', 'launched-app', {
      resourceType: 'ClientApplication', id: 'launched-app', name: 'Launched', status: 'active', grantType: ['authorization_code'],
      tokenEndpointAuthMethod: 'none', redirectUri: [REDIRECT], launchUri: 'https://launched.example/launch', scope: 'openid launch patient/*.rs',
    });
    await fx.repo.update('Patient', 'p-dpop', { resourceType: 'Patient', id: 'p-dpop' });
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge, { userId: fx.adminId, membershipId: fx.adminMembershipId });
    const issued = await request(fx.t.app).post(`${OAUTH}/token`).type('form').auth('web-app', 'web-app-secret-0123456789')
      .set('DPoP', await dpopProof(keyA, { htm: 'POST', htu: tokenUrl }))
      .send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    const token = issued.body.access_token as string;
    const launch = (scheme: string, proof?: string) => {
      const req = request(fx.t.app).post(`${OAUTH}/launch`).type('form').set('Authorization', `${scheme} ${token}`);
      return (proof ? req.set('DPoP', proof) : req).send({ client_id: 'launched-app', patient: 'p-dpop' });
    };
    const ok = await launch('DPoP', await dpopProof(keyA, { htm: 'POST', htu: `${fx.issuer}/api/v1/oauth/launch`, ath: ath(token) }));
    expect(ok.status).toBe(200);
    expect(ok.body.url).toMatch(/^https:\/\/launched\.example\/launch\?/);
    expectDpopChallenge(await launch('Bearer'), 'invalid_token');
    expectDpopChallenge(await launch('DPoP', await dpopProof(keyA, { htm: 'POST', htu: `${fx.issuer}/api/v1/oauth/userinfo`, ath: ath(token) })), 'invalid_dpop_proof');
  });

  it("holds a public client's refresh token to its key; a refusal consumes nothing", async () => {
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge, { clientId: 'public-app' });
    const exchange = await request(fx.t.app).post(`${OAUTH}/token`).type('form')
      .set('DPoP', await dpopProof(keyA, { htm: 'POST', htu: tokenUrl }))
      .send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: 'public-app' });
    expect(exchange.status).toBe(200);
    expect(exchange.body.token_type).toBe('DPoP');
    const refresh = async (key: ProofKey | undefined) => {
      const req = request(fx.t.app).post(`${OAUTH}/token`).type('form');
      if (key) req.set('DPoP', await dpopProof(key, { htm: 'POST', htu: tokenUrl }));
      return req.send({ grant_type: 'refresh_token', refresh_token: exchange.body.refresh_token, client_id: 'public-app' });
    };
    const otherKey = await refresh(keyB);
    expectOAuthError(otherKey, 400, 'invalid_dpop_proof');
    expect(otherKey.body.error_description).toBe('The DPoP proof is signed by another key than the one the refresh token is bound to');
    expectOAuthError(await refresh(undefined), 400, 'invalid_dpop_proof');
    const own = await refresh(keyA);
    expect(own.status).toBe(200);
    expect(jwtClaims(own.body.access_token)).toMatchObject({ cnf: { jkt: keyA.jkt } });
  });
});

describe('DPoP challenges beyond authentication, and the registration field', () => {
  it('answers insufficient_scope for a DPoP-bound token with a DPoP challenge (FHIR API and userinfo)', async () => {
    await fx.repo.update('ClientApplication', 'patient-reader', {
      resourceType: 'ClientApplication',
      id: 'patient-reader',
      name: 'Patient reader',
      status: 'active',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: 'patient-reader-secret-0123456789',
      scope: 'system/Patient.rs',
    });
    const issued = await request(fx.t.app).post(`${OAUTH}/token`).type('form').auth('patient-reader', 'patient-reader-secret-0123456789')
      .set('DPoP', await dpopProof(keyA, { htm: 'POST', htu: tokenUrl }))
      .send({ grant_type: 'client_credentials', scope: 'system/Patient.rs' });
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;
    const res = await fhirRead(token, await dpopProof(keyA, { htm: 'GET', htu: `${fx.fhirBaseUrl}/Observation`, ath: ath(token) }), '/Observation');
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/^DPoP error="insufficient_scope", error_description="[^"]+", algs="ES256 RS256 PS256 EdDSA Ed25519"$/);
    const info = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `DPoP ${token}`)
      .set('DPoP', await dpopProof(keyA, { htm: 'GET', htu: `${fx.issuer}/api/v1/oauth/userinfo`, ath: ath(token) }));
    expect(info.status).toBe(403);
    expect(info.headers['www-authenticate']).toBe(`DPoP realm="${fx.issuer}", error="insufficient_scope", scope="openid", algs="ES256 RS256 PS256 EdDSA Ed25519"`);
  });

  it('validates ClientApplication.dpopBoundAccessTokens as a boolean', async () => {
    const admin = (await adminToken(undefined)).body.access_token as string;
    const post = (value: unknown) =>
      request(fx.t.app).post(`${FHIR}/ClientApplication`).set('Authorization', `Bearer ${admin}`).set('Content-Type', 'application/fhir+json')
        .send({ resourceType: 'ClientApplication', name: 'x', grantType: ['client_credentials'], scope: 'system/*.*', dpopBoundAccessTokens: value });
    const bad = await post('yes');
    expect(bad.status).toBe(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
    const good = await post(true);
    expect(good.status).toBe(201);
    expect(good.body.dpopBoundAccessTokens).toBe(true);
  });
});

describe('codeTokens without DPoP', () => {
  it('still issues Bearer tokens without cnf', async () => {
    const body = await codeTokens(fx);
    expect(body.token_type).toBe('Bearer');
    expect(jwtClaims(body.access_token as string).cnf).toBeUndefined();
  });
});
