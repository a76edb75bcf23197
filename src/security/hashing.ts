/**
 * Hashing of write-only credentials.
 * - Passwords: scrypt (memory-hard; N=2^PASSWORD_HASH_COST, default 2^15 ≈ 32 MiB, r=8, p=1), format
 *   `scrypt$N$r$p$salt$hash`: a hash carries its parameters, so hashes made at another cost still verify.
 * - Client secrets: salted SHA-256, format `sha256$salt$hash`. Secrets the server generates carry 256 bits of
 *   entropy, so a fast hash keeps token-endpoint authentication cheap without weakening them.
 * All comparisons are constant-time.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const SCRYPT = { r: 8, p: 1, keyLength: 32 };

/** log2 of scrypt's N for new hashes: PASSWORD_HASH_COST, set once at start-up by {@link usePasswordHashCost}. */
let passwordCost = 15;

/**
 * Sets the cost of the password hashes made from now on (the process's PASSWORD_HASH_COST).
 * @param cost - log2 of scrypt's N
 */
export function usePasswordHashCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < 1 || cost > 20) throw new RangeError(`password hash cost ${cost} is out of range`);
  passwordCost = cost;
}

/** The cost new password hashes are made with. */
export function passwordHashCost(): number {
  return passwordCost;
}

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Hashes a password with scrypt.
 * @param password - the clear-text password
 * @returns the encoded hash
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { r, p, keyLength } = SCRYPT;
  const N = 2 ** passwordCost;
  const key = await scryptAsync(password, salt, keyLength, { N, r, p, maxmem: 128 * N * r * 2 });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/**
 * Checks a password against an encoded scrypt hash in constant time.
 * @param password - the clear-text candidate
 * @param encoded - the stored hash
 * @returns true when they match
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (!(N > 1 && r > 0 && p > 0 && expected.length > 0)) return false;
  const key = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 128 * N * r * 2 });
  return timingSafeEqual(key, expected);
}

/**
 * Hashes a client secret with salted SHA-256.
 * @param secret - the clear-text secret
 * @returns the encoded hash
 */
export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const digest = createHash('sha256').update(salt).update(secret, 'utf8').digest();
  return ['sha256', salt.toString('base64url'), digest.toString('base64url')].join('$');
}

/**
 * Checks a client secret against an encoded hash in constant time.
 * @param secret - the clear-text candidate
 * @param encoded - the stored hash
 * @returns true when they match
 */
export function verifySecret(secret: string, encoded: string): boolean {
  const parts = encoded.split('$');
  if (parts.length !== 3 || parts[0] !== 'sha256') return false;
  const salt = Buffer.from(parts[1] ?? '', 'base64url');
  const expected = Buffer.from(parts[2] ?? '', 'base64url');
  const digest = createHash('sha256').update(salt).update(secret, 'utf8').digest();
  return expected.length === digest.length && timingSafeEqual(digest, expected);
}

/**
 * Generates a random credential (256 bits, base64url).
 * @returns the new secret
 */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
