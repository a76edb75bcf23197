/**
 * Hand-built DPoP proofs (RFC 9449 §4.2) for the refusal tests: a key pair per test key, and a proof whose every
 * header member and claim a test can change.
 */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, type KeyLike, SignJWT } from 'jose';

/** A DPoP key: the private key that signs, the public JWK that goes in the header, its thumbprint. */
export interface ProofKey {
  privateKey: KeyLike;
  publicJwk: JWK;
  privateJwk: JWK;
  jkt: string;
  alg: string;
}

/**
 * A new key pair.
 * @param alg - ES256 (default), RS256, PS256 or EdDSA
 * @returns the key
 */
export async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, privateJwk: await exportJWK(privateKey), jkt: await calculateJwkThumbprint(publicJwk, 'sha256'), alg };
}

/** What a proof says; every field may be overridden or removed (undefined). */
export interface ProofClaims {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  ath?: string;
  nonce?: string;
}

/**
 * Signs a proof.
 * @param key - the key
 * @param claims - htm and htu at least; jti and iat default to fresh values
 * @param header - header members to add or replace (typ, alg, jwk)
 * @returns the compact JWS
 */
export function dpopProof(key: ProofKey, claims: ProofClaims, header: Record<string, unknown> = {}): Promise<string> {
  const payload: Record<string, unknown> = { jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims };
  for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...header }).sign(key.privateKey);
}

/**
 * The `ath` of an access token.
 * @param token - the token
 * @returns base64url(SHA-256(token))
 */
export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * The claims of a JWT, unverified (the tests read their own tokens).
 * @param jwt - the token
 * @returns its payload
 */
export function jwtClaims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * A proof signed with a symmetric key (HS256), its secret in the `jwk` header: what a DPoP proof must never be.
 * @param claims - the claims
 * @returns the compact JWS
 */
export function hs256Proof(claims: ProofClaims): Promise<string> {
  const secret = Buffer.alloc(32, 7);
  return new SignJWT({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: secret.toString('base64url') } as JWK })
    .sign(secret);
}
