/** Opaque tokens (codes, refresh tokens) are random and stored only as their SHA-256. */
import { createHash, randomBytes } from 'node:crypto';

/**
 * A new opaque token: 256 random bits, base64url.
 * @returns the token
 */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The storage key of an opaque token.
 * @param token - the token
 * @returns its SHA-256, base64url
 */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
