/**
 * CSRF tokens for the interaction forms. Each form carries a random token that is stored with what it
 * protects (the pending interaction for login and consent, the session for logout); a post is accepted only
 * when its `csrf` field equals the stored token (constant-time). Together with the interaction cookie, a form
 * can only be submitted from the browser that opened it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A fresh random token (256 bits, base64url).
 * @returns the token
 */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * SHA-256 of a token, base64url (how session and interaction ids are stored).
 * @param token - the token
 * @returns the digest
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/**
 * Constant-time string comparison (hashing first makes the lengths equal).
 * @param a - one value (may be missing)
 * @param b - the other
 * @returns true only when both are present and equal
 */
export function safeEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length === 0 || b.length === 0) return false;
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
