/**
 * The server's JWS signing (src/oauth/tokens/sign.ts): RS256 tokens signed with node:crypto directly verify with
 * jose exactly like tokens jose signs, header included; other keys are signed by jose.
 */
import { compactVerify, decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import type { SigningKey } from '../../src/oauth/tokens/keys';
import { signJwt } from '../../src/oauth/tokens/sign';

const now = Math.floor(Date.now() / 1000);
const claims = { client_id: 'c', scope: 'system/*.read', iss: 'https://issuer.example', sub: 'c', aud: 'https://fhir.example', iat: now, exp: now + 60, jti: 'j', fhirUser: 'https://fhir.example/Patient/é' };

describe('signJwt', () => {
  it('signs RS256 tokens that verify with jose, with the header and claims given', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
    const key: SigningKey = { kid: 'k1', alg: 'RS256', privateKey, publicKey } as SigningKey;
    for (const typ of ['at+jwt', 'JWT', 'at+jwt']) {
      const token = await signJwt(claims, key, typ);
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', kid: 'k1', typ });
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: ['RS256'], issuer: claims.iss, audience: claims.aud, typ });
      expect(payload).toEqual(claims);
      expect(protectedHeader.typ).toBe(typ);
    }
    // A tampered payload fails.
    const [header, , signature] = (await signJwt(claims, key, 'at+jwt')).split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'system/*.*' })).toString('base64url')}.${signature}`;
    await expect(compactVerify(forged, publicKey)).rejects.toThrow();
  });

  it('leaves other algorithms to jose', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const key: SigningKey = { kid: 'k2', alg: 'ES256', privateKey, publicKey } as SigningKey;
    const token = await signJwt(claims, key, 'JWT');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: 'k2', typ: 'JWT' });
    expect((await jwtVerify(token, publicKey, { algorithms: ['ES256'] })).payload).toEqual(claims);
  });
});
