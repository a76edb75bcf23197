/**
 * Access token verification (RFC 9068 §4): the JWT must be signed by one of the project's keys (looked up by
 * `kid`, RS256 only), have `typ: at+jwt`, `iss` = the project's issuer, `aud` = its FHIR base URL, and not be
 * expired. Its times must be ones this server could have issued, so a token minted with a stolen key cannot
 * outlive the key's own publication:
 * - `exp - iat` at most {@link MAX_SIGNED_LIFETIME} (the longest access token lifetime a client can be given);
 * - `iat` not later than now + {@link MAX_CLOCK_SKEW} (instances' clocks may differ a little);
 * - `nbf`, when present, not in the future;
 * - a retired key signed nothing after its retirement (+ the time instances take to notice it, + the skew).
 * Backdating `iat` does not help a forger: with the lifetime cap, such a token expires at most 24 h after the key's
 * retirement, when the key leaves the JWKS (`removeAfter`) and nothing verifies against it any more.
 * Whether its grant, client and user are still active is the bearer authenticator's business.
 */
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { InvalidTokenError } from '../errors';
import type { OAuthProject } from '../project';
import { type KeyStore, MAX_SIGNED_LIFETIME, RETIRED_KEY_SIGNING_GRACE, type SigningKey } from './keys';

/** Clock difference tolerated between instances (and clients) for `iat`, in seconds. */
export const MAX_CLOCK_SKEW = 60;

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  /** The project key. */
  project: string;
  clientId: string;
  /** The User id when the token was issued to a user (`sub` = `User/<id>`). */
  userId?: string;
  scopes: string[];
  grantId: string;
  /** False when the grant is not stored: the token is its record, and a stored record means it was revoked. */
  grantStored: boolean;
  /** Absolute URL of the user's linked resource. */
  fhirUser?: string;
  /** Patient in context (SMART; its id), when present. */
  patient?: string;
  /** Encounter in context (SMART; its id), when present. */
  encounter?: string;
  /** Expiry, epoch seconds. */
  exp: number;
  iat: number;
  jti?: string;
  /** The thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6.1), when it is bound. */
  jkt?: string;
}

/** A syntactically plausible compact JWS: three base64url parts. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Refuses times this server cannot have issued (see the file comment). */
function checkTimes(iat: number, exp: number, key: SigningKey): void {
  const now = Math.floor(Date.now() / 1000);
  if (iat > now + MAX_CLOCK_SKEW) throw new InvalidTokenError('The access token is issued in the future');
  if (exp - iat > MAX_SIGNED_LIFETIME) throw new InvalidTokenError('The access token lives longer than this server issues tokens for');
  if (key.retiredAt !== undefined && iat > key.retiredAt + RETIRED_KEY_SIGNING_GRACE + MAX_CLOCK_SKEW) {
    throw new InvalidTokenError('The access token was signed with a retired key after its retirement');
  }
}

/**
 * Verifies an access token's signature and claims.
 * @param keys - the key store
 * @param token - the JWT
 * @param project - the project the token must belong to
 * @returns its claims
 * @throws InvalidTokenError when it is malformed, signed by an unknown key, expired, not yet valid (`nbf`), for
 *   another issuer or audience, or its times are ones this server cannot have issued
 */
export async function verifyAccessToken(keys: KeyStore, token: string, project: OAuthProject): Promise<AccessTokenClaims> {
  if (token.length > 8192 || !COMPACT_JWS.test(token)) throw new InvalidTokenError('The access token is malformed');
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new InvalidTokenError('The access token is malformed');
  }
  const key = typeof kid === 'string' ? await keys.verificationKey(project.key, kid) : undefined;
  if (!key) throw new InvalidTokenError('The access token was not signed by this server');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      issuer: project.issuer,
      audience: project.fhirBase,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'grant_id'],
    }));
  } catch {
    throw new InvalidTokenError('The access token is invalid or expired');
  }
  checkTimes(payload.iat as number, payload.exp as number, key);
  const sub = String(payload.sub);
  const { cnf } = payload as { cnf?: { jkt?: unknown } };
  const claims: AccessTokenClaims = {
    project: project.key,
    clientId: String(payload.client_id),
    userId: sub.startsWith('User/') ? sub.slice(5) : undefined,
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
    grantId: String(payload.grant_id),
    grantStored: payload.grant_stored !== false,
    fhirUser: typeof payload.fhirUser === 'string' ? payload.fhirUser : undefined,
    patient: typeof payload.patient === 'string' ? payload.patient : undefined,
    encounter: typeof payload.encounter === 'string' ? payload.encounter : undefined,
    exp: payload.exp as number,
    iat: payload.iat as number,
    jti: typeof payload.jti === 'string' ? payload.jti : undefined,
  };
  if (cnf !== undefined) {
    if (typeof cnf !== 'object' || cnf === null || typeof cnf.jkt !== 'string') throw new InvalidTokenError('The access token is malformed');
    claims.jkt = cnf.jkt;
  }
  return claims;
}
