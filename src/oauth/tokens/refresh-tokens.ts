/**
 * Refresh tokens: opaque, stored hashed (kind `refresh-token`), rotated on every use. A used token leaves a
 * `used-refresh-token` marker naming its grant; presenting it again, even concurrently with its first use,
 * revokes the whole grant (RFC 9700 §4.14.2). A token can be inspected without using it (whose it is, its grant,
 * its scopes), so a request is checked in full before anything is consumed.
 */
import type { OAuthDeps } from '../deps';
import { type Grant, readGrant } from './grants';
import { newOpaqueToken, tokenKey } from './hash';
import { redeemOnce } from './single-use';

const KIND = 'refresh-token';
const USED_KIND = 'used-refresh-token';

/** What a refresh token carries. */
export interface RefreshTokenData {
  grantId: string;
  clientId: string;
  scope: string[];
  /** The DPoP key a public client's refresh token is bound to (RFC 9449 §5). */
  jkt?: string;
}

/**
 * Issues a refresh token.
 * @param deps - OAuth dependencies
 * @param data - grant, client and scope
 * @param lifetimeSeconds - lifetime
 * @returns the token
 */
export async function issueRefreshToken(deps: OAuthDeps, data: RefreshTokenData, lifetimeSeconds: number): Promise<string> {
  const token = newOpaqueToken();
  await deps.storage.records.put({
    kind: KIND,
    key: tokenKey(token),
    value: { ...data },
    expiresAt: new Date(Date.now() + lifetimeSeconds * 1000).toISOString(),
  });
  return token;
}

/** The outcome of presenting a refresh token. */
export type RefreshUse = { status: 'ok'; data: RefreshTokenData } | { status: 'reused'; grantId: string } | { status: 'unknown' };

/**
 * Uses a refresh token: marks it used (atomically, before consuming it) and consumes it.
 * @param deps - OAuth dependencies
 * @param token - the token
 * @returns its data, or why it cannot be used
 */
export async function useRefreshToken(deps: OAuthDeps, token: string): Promise<RefreshUse> {
  const result = await redeemOnce(deps.storage.records, { kind: KIND, usedKind: USED_KIND }, tokenKey(token), (record) => ({
    value: { grantId: record.value.grantId },
    expiresAt: record.expiresAt,
  }));
  if (result.status === 'ok') return { status: 'ok', data: result.record.value as unknown as RefreshTokenData };
  if (result.status === 'reused' && typeof result.marker.grantId === 'string') return { status: 'reused', grantId: result.marker.grantId };
  return { status: 'unknown' };
}

/**
 * Reads a refresh token without using it (introspection, revocation).
 * @param deps - OAuth dependencies
 * @param token - the token
 * @returns its data and expiry, or undefined
 */
export async function peekRefreshToken(deps: OAuthDeps, token: string): Promise<(RefreshTokenData & { expiresAt?: string }) | undefined> {
  const record = await deps.storage.records.get(KIND, tokenKey(token));
  return record ? { ...(record.value as unknown as RefreshTokenData), expiresAt: record.expiresAt } : undefined;
}

/** Whose a refresh token is: the project and client of its grant. */
export interface RefreshTokenOwner {
  project: string;
  clientId: string;
}

/** A presented refresh token, inspected without being used. */
export type PresentedRefreshToken =
  | { status: 'live'; data: RefreshTokenData; grant: Grant }
  | { status: 'used'; grant: Grant }
  | { status: 'unknown' };

/**
 * Looks a refresh token up without using it: live (with its data and grant), already used (with the grant its
 * marker names), or unknown (never issued, expired, or its grant gone). Nothing is consumed or changed.
 * @param deps - OAuth dependencies
 * @param token - the token
 * @returns what the token is
 */
export async function inspectRefreshToken(deps: OAuthDeps, token: string): Promise<PresentedRefreshToken> {
  const key = tokenKey(token);
  const live = await deps.storage.records.get(KIND, key, { shared: true });
  const record = live ?? (await deps.storage.records.get(USED_KIND, key, { shared: true }));
  const grantId = record?.value.grantId;
  if (typeof grantId !== 'string') return { status: 'unknown' };
  const grant = await readGrant(deps, grantId, { shared: true });
  if (typeof grant?.project !== 'string' || typeof grant.clientId !== 'string') return { status: 'unknown' };
  return live ? { status: 'live', data: live.value as unknown as RefreshTokenData, grant } : { status: 'used', grant };
}

/**
 * The owner of a refresh token, live or already used (through the grant its used marker names). Nothing is
 * consumed or changed.
 * @param deps - OAuth dependencies
 * @param token - the token
 * @returns the project and client of its grant, or undefined when the token or its grant is unknown
 */
export async function refreshTokenOwner(deps: OAuthDeps, token: string): Promise<RefreshTokenOwner | undefined> {
  const presented = await inspectRefreshToken(deps, token);
  return presented.status === 'unknown' ? undefined : { project: presented.grant.project, clientId: presented.grant.clientId };
}
