/**
 * DPoP proof JWTs (RFC 9449 §4.2, §4.3). A proof is accepted only when:
 * - the `DPoP` header carries exactly one compact JWS (a repeated header arrives joined by a comma, refused);
 * - its header has `typ: dpop+jwt`, an asymmetric `alg` of {@link DPOP_ALGS} (`none` and HMAC are refused) and a
 *   `jwk` that is a public key (no private or symmetric members; RSA at most 4096 bits with an exponent of at most
 *   48 bits, so that a stranger's proof is cheap to verify), and the signature verifies with that key;
 * - `jti` is a string (single use is the caller's business: dpop.ts), `htm` is the request's method and `htu` its
 *   URL as this server publishes it, both compared without query and fragment after URL normalization;
 * - `iat` is within {@link PROOF_WINDOW_SECONDS} of the server's clock, either way;
 * - on a resource request, `ath` is the base64url SHA-256 of the access token.
 * The key's RFC 7638 thumbprint (`jkt`) is what tokens are bound to.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import { DPOP_ALGS, InvalidDpopProofError } from '../errors';

/** How far a proof's `iat` may be from the server's clock, in seconds (past or future). */
export const PROOF_WINDOW_SECONDS = 60;

/** The longest proof accepted, in characters (an RSA-4096 `jwk` fits several times over). */
const MAX_PROOF_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Base64url length of a 4096-bit RSA modulus, and of a public exponent of at most 48 bits (65537 is `AQAB`). */
const MAX_RSA_MODULUS_CHARS = 683;
const MAX_RSA_EXPONENT_CHARS = 8;
/** JWK members that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** What the proof must match. */
export interface ProofExpectation {
  /** The HTTP method of the request. */
  method: string;
  /** The URL of the request as the server publishes it (query and fragment are ignored). */
  url: string;
  /** On a resource request, the access token the proof must be bound to (`ath`). */
  accessToken?: string;
  /** A resource's protection space: errors then are 401 with a `DPoP` challenge (400 at the token endpoint). */
  realm?: string;
}

/** A verified proof. */
export interface VerifiedProof {
  /** The RFC 7638 SHA-256 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  iat: number;
  nonce?: string;
}

/**
 * A URL without query and fragment, normalized (scheme and host case, default port, dot segments).
 * @param url - the URL
 * @returns the normalized form, or undefined when it is not an http(s) URL
 */
export function normalizeHtu(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * The `ath` of an access token (RFC 9449 §4.2).
 * @param accessToken - the token
 * @returns base64url(SHA-256(token))
 */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

function checkHeader(proof: string, fail: (description: string) => never): JWK {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    fail('The DPoP proof is not a JWT');
  }
  if (header.typ !== 'dpop+jwt') fail('The DPoP proof must have typ dpop+jwt');
  if (!(DPOP_ALGS as readonly string[]).includes(String(header.alg))) fail(`The DPoP proof must be signed with one of ${DPOP_ALGS.join(', ')}`);
  const { jwk } = header;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) fail('The DPoP proof must carry its public key in the jwk header');
  if (PRIVATE_MEMBERS.some((member) => member in jwk) || jwk.kty === 'oct') fail('The jwk of a DPoP proof must be a public key');
  // Anyone can send a proof: an RSA key with a huge modulus or exponent would make verifying it expensive.
  if (jwk.kty === 'RSA' && !(typeof jwk.n === 'string' && jwk.n.length <= MAX_RSA_MODULUS_CHARS && typeof jwk.e === 'string' && jwk.e.length <= MAX_RSA_EXPONENT_CHARS)) {
    fail('The jwk of a DPoP proof must be an RSA key of at most 4096 bits with a small public exponent');
  }
  return jwk;
}

function checkClaims(payload: Record<string, unknown>, expected: ProofExpectation, fail: (description: string) => never): void {
  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) fail('The DPoP proof must carry a jti of 1 to 256 characters');
  if (htm !== expected.method) fail('The DPoP proof htm does not match the request method');
  if (typeof htu !== 'string' || normalizeHtu(htu) === undefined || normalizeHtu(htu) !== normalizeHtu(expected.url)) {
    fail('The DPoP proof htu does not match the request URL');
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('The DPoP proof must carry iat');
  if (Math.abs(Date.now() / 1000 - iat) > PROOF_WINDOW_SECONDS) fail(`The DPoP proof iat is more than ${PROOF_WINDOW_SECONDS} seconds from the server's time`);
  if (expected.accessToken !== undefined && ath !== accessTokenHash(expected.accessToken)) fail('The DPoP proof ath does not match the access token');
  if (payload.nonce !== undefined && typeof payload.nonce !== 'string') fail('The DPoP proof nonce must be a string');
}

/**
 * Verifies a DPoP proof.
 * @param proof - the `DPoP` header value
 * @param expected - the request it must be for
 * @returns the key thumbprint and the claims the caller checks further (jti, nonce)
 * @throws InvalidDpopProofError for anything wrong with it
 */
export async function verifyDpopProof(proof: string | undefined, expected: ProofExpectation): Promise<VerifiedProof> {
  const fail = (description: string): never => {
    throw new InvalidDpopProofError(description, expected.realm);
  };
  if (proof === undefined || proof === '') fail('A DPoP proof is required');
  const value = (proof as string).trim();
  if (value.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(value)) fail('The DPoP header must carry exactly one proof JWT');
  const jwk = checkHeader(value, fail);
  let payload: Record<string, unknown> = {};
  try {
    ({ payload } = await jwtVerify(value, EmbeddedJWK, { algorithms: [...DPOP_ALGS], typ: 'dpop+jwt' }));
  } catch {
    fail('The DPoP proof signature could not be verified with its jwk');
  }
  checkClaims(payload, expected, fail);
  let jkt = '';
  try {
    jkt = await calculateJwkThumbprint(jwk, 'sha256');
  } catch {
    fail('The jwk of the DPoP proof is not a valid key');
  }
  return { jkt, jti: payload.jti as string, iat: payload.iat as number, ...(typeof payload.nonce === 'string' ? { nonce: payload.nonce } : {}) };
}
