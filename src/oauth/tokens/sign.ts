/**
 * Compact JWS signing (RFC 7515 §7.1) of the tokens the server issues. With an RS256 key held as a Node KeyObject
 * (what the key store imports) the protected header is encoded once per key and token type, and the signature is
 * one `node:crypto` call (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3); any other key goes through jose.
 */
import { KeyObject, sign } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './keys';

/** Encoded protected headers by kid and `typ` (a handful: keys rotate rarely). */
const headers = new Map<string, string>();
const MAX_HEADERS = 64;

function encodedHeader(key: SigningKey, typ: string): string {
  const id = `${key.kid}\0${typ}`;
  let header = headers.get(id);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ })).toString('base64url');
    if (headers.size >= MAX_HEADERS) headers.clear();
    headers.set(id, header);
  }
  return header;
}

/**
 * Signs a JWT.
 * @param payload - the claims, complete (`iss`, `sub`, `aud`, `iat`, `exp`, ... included)
 * @param key - the signing key
 * @param typ - the `typ` header (`at+jwt`, `JWT`)
 * @returns the compact JWS
 */
export async function signJwt(payload: Record<string, unknown>, key: SigningKey, typ: string): Promise<string> {
  if (key.alg !== 'RS256' || !(key.privateKey instanceof KeyObject) || key.privateKey.asymmetricKeyType !== 'rsa') {
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).sign(key.privateKey);
  }
  const input = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}
