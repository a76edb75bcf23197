/**
 * Authorization codes (RFC 6749 §4.1.2, RFC 7636): opaque, stored hashed, single use, 60 seconds.
 * A redeemed code leaves a `used-authorization-code` marker naming the grant it created, so that a second
 * redemption revokes that grant (RFC 6749 §4.1.2: "SHOULD revoke all tokens previously issued").
 */
import type { OAuthDeps } from '../deps';
import { newOpaqueToken, tokenKey } from './hash';
import { redeemOnce } from './single-use';

/** Lifetime of an authorization code in seconds. */
export const AUTHORIZATION_CODE_LIFETIME = 60;

const KIND = 'authorization-code';
const USED_KIND = 'used-authorization-code';

/** What a code is bound to. */
export interface AuthorizationCodeData {
  /** The project key. */
  project: string;
  clientId: string;
  redirectUri: string;
  /** The authorization request omitted `redirect_uri` (one registered URI): the token request may omit it too. */
  redirectUriOmitted?: boolean;
  /** The PKCE S256 challenge. */
  codeChallenge: string;
  scope: string[];
  userId: string;
  membershipId?: string;
  nonce?: string;
  /** Epoch seconds of the user's authentication. */
  authTime: number;
  /** Launch context (SMART). */
  launch?: Record<string, unknown>;
}

/**
 * Issues a code.
 * @param deps - OAuth dependencies
 * @param data - what the code is bound to
 * @returns the code to send to the client
 */
export async function issueAuthorizationCode(deps: OAuthDeps, data: AuthorizationCodeData): Promise<string> {
  const code = newOpaqueToken();
  await deps.storage.records.put({
    kind: KIND,
    key: tokenKey(code),
    value: { ...data },
    expiresAt: new Date(Date.now() + AUTHORIZATION_CODE_LIFETIME * 1000).toISOString(),
  });
  return code;
}

/** The outcome of redeeming a code. */
export type Redemption = { status: 'ok'; data: AuthorizationCodeData } | { status: 'reused'; grantId?: string } | { status: 'unknown' };

/**
 * Redeems a code once. The used marker, naming the grant this redemption will create, is written before the code
 * is consumed, so a concurrent or later second redemption learns which grant to revoke.
 * @param deps - OAuth dependencies
 * @param code - the code from the token request
 * @param grantId - the id the grant created from this code will get
 * @returns the code's data, or why it cannot be used
 */
export async function redeemAuthorizationCode(deps: OAuthDeps, code: string, grantId: string): Promise<Redemption> {
  const result = await redeemOnce(deps.storage.records, { kind: KIND, usedKind: USED_KIND }, tokenKey(code), (record) => {
    const expiresAt = Date.parse(record.expiresAt ?? '') || Date.now() + AUTHORIZATION_CODE_LIFETIME * 1000;
    // Kept a while longer than the code so a late replay is still recognised.
    return { value: { grantId }, expiresAt: new Date(expiresAt + 10 * 60_000).toISOString() };
  });
  if (result.status === 'ok') return { status: 'ok', data: result.record.value as unknown as AuthorizationCodeData };
  if (result.status === 'reused') return { status: 'reused', grantId: typeof result.marker.grantId === 'string' ? result.marker.grantId : undefined };
  return { status: 'unknown' };
}
