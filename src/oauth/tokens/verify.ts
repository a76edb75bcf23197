/**
 * Access token verification (RFC 9068 §4): the JWT must be signed by one of the project's keys (looked up by
 * `kid`, RS256 only), have `typ: at+jwt`, `iss` = the project's issuer, `aud` = its FHIR base URL, and not be
 * expired. Whether its grant, client and user are still active is the bearer authenticator's business.
 */
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { InvalidTokenError } from '../errors';
import type { OAuthProject } from '../project';
import type { KeyStore } from './keys';

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  /** The project key. */
  project: string;
  clientId: string;
  /** The User id when the token was issued to a user (`sub` = `User/<id>`). */
  userId?: string;
  scopes: string[];
  grantId: string;
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
}

/** A syntactically plausible compact JWS: three base64url parts. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies an access token's signature and claims.
 * @param keys - the key store
 * @param token - the JWT
 * @param project - the project the token must belong to
 * @returns its claims
 * @throws InvalidTokenError when it is malformed, signed by an unknown key, expired, or for another issuer or audience
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
  const sub = String(payload.sub);
  return {
    project: project.key,
    clientId: String(payload.client_id),
    userId: sub.startsWith('User/') ? sub.slice(5) : undefined,
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
    grantId: String(payload.grant_id),
    fhirUser: typeof payload.fhirUser === 'string' ? payload.fhirUser : undefined,
    patient: typeof payload.patient === 'string' ? payload.patient : undefined,
    encounter: typeof payload.encounter === 'string' ? payload.encounter : undefined,
    exp: payload.exp as number,
    iat: payload.iat as number,
    jti: typeof payload.jti === 'string' ? payload.jti : undefined,
  };
}
