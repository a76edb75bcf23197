/**
 * Authorization codes (RFC 6749 §4.1.2, RFC 7636): opaque, stored hashed, single use, 60 seconds.
 * A redeemed code leaves a `used-authorization-code` marker naming the grant it created, so that a second
 * redemption revokes that grant (RFC 6749 §4.1.2: "SHOULD revoke all tokens previously issued").
 */
import type { OAuthDeps } from '../deps';
import { newOpaqueToken, tokenKey } from './hash';

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
export type Redemption =
  | { status: 'ok'; data: AuthorizationCodeData; expiresAt: string; markUsed: (grantId: string) => Promise<void> }
  | { status: 'reused'; grantId?: string }
  | { status: 'unknown' };

/**
 * Redeems a code: atomically consumes it; a code seen before reports the grant its first use created.
 * @param deps - OAuth dependencies
 * @param code - the code from the token request
 * @returns the code's data, or why it cannot be used
 */
export async function redeemAuthorizationCode(deps: OAuthDeps, code: string): Promise<Redemption> {
  const key = tokenKey(code);
  const record = await deps.storage.records.consume(KIND, key);
  if (record) {
    const expiresAt = record.expiresAt ?? new Date(Date.now() + AUTHORIZATION_CODE_LIFETIME * 1000).toISOString();
    return {
      status: 'ok',
      data: record.value as unknown as AuthorizationCodeData,
      expiresAt,
      markUsed: async (grantId) => {
        // Kept a while longer than the code so a late replay is still recognised.
        const until = new Date(Date.parse(expiresAt) + 10 * 60_000).toISOString();
        await deps.storage.records.put({ kind: USED_KIND, key, value: { grantId }, expiresAt: until });
      },
    };
  }
  const used = await deps.storage.records.get(USED_KIND, key);
  if (used) return { status: 'reused', grantId: typeof used.value.grantId === 'string' ? used.value.grantId : undefined };
  return { status: 'unknown' };
}
