/**
 * Grants: one per authorization (a code exchange or a client_credentials request). Every token carries its grant
 * id; revoking the grant (revocation endpoint, code or refresh token reuse) ends every token issued under it on
 * the next request. Records of kind `grant`, kept until the longest-lived token of the grant has expired.
 *
 * A client_credentials grant issues exactly one access token and nothing else (no refresh token, no user), so it
 * is not stored: the signed token is its own record (claim `grant_stored: false`, grant id = its `jti`). Its
 * revocation stores a revoked record under that id, kept until the token expires, in the same store every
 * instance shares; the bearer check reads the grant id on every request either way, and for such a token an
 * absent record means "not revoked" while any record means "revoked". A token without the claim has a stored
 * grant, and an absent record means revoked, as before.
 */
import { randomUUID } from 'node:crypto';
import type { OAuthDeps } from '../deps';
import { InvalidGrantError } from '../errors';

const KIND = 'grant';

/** A grant as stored. */
export interface Grant {
  grantId: string;
  project: string;
  clientId: string;
  userId?: string;
  membershipId?: string;
  scope: string[];
  createdAt: string;
  /** Epoch seconds of the user's authentication. */
  authTime?: number;
  nonce?: string;
  launch?: Record<string, unknown>;
  revokedAt?: string;
  /** ISO instant after which the grant (and every refresh token of it) is gone. */
  expiresAt?: string;
  /** False for a grant that is not stored ({@link selfContainedGrant}): its one token carries it. */
  stored?: false;
}

/** How long a revocation placeholder is kept when the grant's own expiry is unknown. */
const PLACEHOLDER_LIFETIME_MS = 3600_000;

/**
 * Creates a grant. With a chosen id (an authorization code's), creation fails when that id was revoked already:
 * a second redemption of the code got there first.
 * @param deps - OAuth dependencies
 * @param grant - the grant without id and creation time
 * @param lifetimeSeconds - how long its longest token may live
 * @param grantId - the id to use (default: a new UUID)
 * @returns the stored grant
 * @throws InvalidGrantError when the id is already taken (revoked before it was created)
 */
export async function createGrant(
  deps: OAuthDeps,
  grant: Omit<Grant, 'grantId' | 'createdAt' | 'expiresAt'>,
  lifetimeSeconds: number,
  grantId: string = randomUUID(),
): Promise<Grant> {
  const expiresAt = new Date(Date.now() + lifetimeSeconds * 1000).toISOString();
  const stored: Grant = { ...grant, grantId, createdAt: new Date().toISOString(), expiresAt };
  const created = await deps.storage.records.insert({ kind: KIND, key: grantId, value: stored as unknown as Record<string, unknown>, expiresAt });
  if (!created) throw new InvalidGrantError('The authorization was revoked');
  return stored;
}

/**
 * A grant that is not stored: the one access token issued under it is its record (see the file comment). Only for
 * grants that issue a single access token and no refresh token.
 * @param grant - the grant without id and creation time
 * @param lifetimeSeconds - the lifetime of its token
 * @returns the grant; its id is to be the token's `jti`
 */
export function selfContainedGrant(grant: Omit<Grant, 'grantId' | 'createdAt' | 'expiresAt'>, lifetimeSeconds: number): Grant {
  const now = Date.now();
  return { ...grant, grantId: randomUUID(), createdAt: new Date(now).toISOString(), expiresAt: new Date(now + lifetimeSeconds * 1000).toISOString(), stored: false };
}

/**
 * Reads a grant.
 * @param deps - OAuth dependencies
 * @param grantId - the id
 * @param options - `shared`: the caller only reads it (see RecordStore.get)
 * @returns the grant, or undefined when unknown or expired
 */
export async function readGrant(deps: OAuthDeps, grantId: string, options: { shared?: boolean } = {}): Promise<Grant | undefined> {
  const record = await deps.storage.records.get(KIND, grantId, options);
  return record ? (record.value as unknown as Grant) : undefined;
}

/**
 * Whether a grant is still usable.
 * @param grant - the grant (or undefined)
 * @returns true when it exists and was not revoked
 */
export function isGrantActive(grant: Grant | undefined): grant is Grant {
  return grant !== undefined && grant.revokedAt === undefined;
}

/**
 * Revokes a grant: every token issued under it stops working.
 * @param deps - OAuth dependencies
 * @param grantId - the id
 * @param keepUntil - epoch milliseconds until which a revoked placeholder must last when no record exists (a
 *   self-contained grant: its token's expiry); at least an hour either way
 */
export async function revokeGrant(deps: OAuthDeps, grantId: string, keepUntil = 0): Promise<void> {
  const record = await deps.storage.records.get(KIND, grantId);
  if (!record) {
    // A self-contained grant, or one not created yet (a code's first redemption still running): leave a revoked
    // placeholder, so the token is refused and the grant never will be created.
    const revokedAt = new Date().toISOString();
    const expiresAt = new Date(Math.max(Date.now() + PLACEHOLDER_LIFETIME_MS, keepUntil)).toISOString();
    await deps.storage.records.insert({ kind: KIND, key: grantId, value: { grantId, revokedAt }, expiresAt });
    return;
  }
  if ((record.value as unknown as Grant).revokedAt) return;
  await deps.storage.records.put({ ...record, value: { ...record.value, revokedAt: new Date().toISOString() } });
}
