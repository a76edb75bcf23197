/**
 * Sealing secrets at rest: AES-256-GCM under a key-encryption key, a fresh IV per seal, bound to its record by
 * AAD, opened only by the KEK it names (current or previous); anything altered is refused with a message naming
 * KEY_ENCRYPTION_KEY.
 */
import { randomBytes } from 'node:crypto';
import { decodeKeyEncryptionKey, isSealedSecret, kekIdOf, KeyEncryption, KeyEncryptionError, type SealedSecret } from '../../src/security/key-encryption';

const current = randomBytes(32);
const previous = randomBytes(32);
const secret = Buffer.from('{"kty":"RSA","d":"private"}');

function flip(b64: string, index = 0): string {
  const bytes = Buffer.from(b64, 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ 1;
  return bytes.toString('base64url');
}

describe('KeyEncryption', () => {
  it('seals with A256GCM, a random 96-bit IV and a full tag, naming the KEK; opens with the same AAD', () => {
    const kek = new KeyEncryption(current);
    const a = kek.seal(secret, 'signing-key|p|k1');
    const b = kek.seal(secret, 'signing-key|p|k1');
    expect(a).toEqual({ alg: 'A256GCM', kekId: kekIdOf(current), iv: expect.stringMatching(/^[\w-]{16}$/), tag: expect.stringMatching(/^[\w-]{22}$/), ciphertext: expect.any(String) });
    expect(isSealedSecret(a)).toBe(true);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(JSON.stringify(a)).not.toContain('private');
    expect(kek.open(a, 'signing-key|p|k1', 'the key')).toEqual(secret);
    expect(kek.kekId).toMatch(/^[\w-]{16}$/);
    expect(kek.kekId).not.toBe(kekIdOf(previous));
  });

  it.each<[string, (s: SealedSecret) => SealedSecret, string]>([
    ['another record (AAD)', (s) => s, 'signing-key|p|k2'],
    ['an altered ciphertext', (s) => ({ ...s, ciphertext: flip(s.ciphertext) }), 'signing-key|p|k1'],
    ['an altered tag', (s) => ({ ...s, tag: flip(s.tag) }), 'signing-key|p|k1'],
    ['an altered IV', (s) => ({ ...s, iv: flip(s.iv) }), 'signing-key|p|k1'],
    ['a truncated tag', (s) => ({ ...s, tag: Buffer.from(s.tag, 'base64url').subarray(0, 4).toString('base64url') }), 'signing-key|p|k1'],
  ])('refuses to open a seal moved to %s', (_name, alter, aad) => {
    const kek = new KeyEncryption(current);
    const sealed = alter(kek.seal(secret, 'signing-key|p|k1'));
    expect(() => kek.open(sealed, aad, 'the key k1')).toThrow(KeyEncryptionError);
    expect(() => kek.open(sealed, aad, 'the key k1')).toThrow(`KEY_ENCRYPTION_KEY: the key k1 does not decrypt with key-encryption key ${kekIdOf(current)}: the stored value was altered`);
  });

  it('opens seals of the previous KEK and seals only with the current one', () => {
    const old = new KeyEncryption(previous).seal(secret, 'aad');
    const rotating = new KeyEncryption(current, previous);
    expect(rotating.isCurrent(old)).toBe(false);
    expect(rotating.open(old, 'aad', 'the key')).toEqual(secret);
    const fresh = rotating.seal(secret, 'aad');
    expect(fresh.kekId).toBe(kekIdOf(current));
    expect(rotating.isCurrent(fresh)).toBe(true);
  });

  it('names KEY_ENCRYPTION_KEY and both key ids when the sealing KEK is not configured', () => {
    const sealed = new KeyEncryption(previous).seal(secret, 'aad');
    expect(() => new KeyEncryption(current).open(sealed, 'aad', 'the signing key k1 of project t/p')).toThrow(
      `KEY_ENCRYPTION_KEY: the signing key k1 of project t/p is encrypted with key-encryption key ${kekIdOf(previous)}, but the configured key is ${kekIdOf(current)}.`,
    );
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new KeyEncryption(randomBytes(16))).toThrow('KEY_ENCRYPTION_KEY: a key-encryption key must be 32 bytes, got 16');
  });
});

describe('decodeKeyEncryptionKey', () => {
  it('reads 64 hex digits and 43 base64url characters, nothing else', () => {
    expect(decodeKeyEncryptionKey(current.toString('hex'))).toEqual(current);
    expect(decodeKeyEncryptionKey(current.toString('base64url'))).toEqual(current);
    // Standard base64 (`+`, `/`) is not accepted.
    expect(decodeKeyEncryptionKey(Buffer.alloc(32, 0xfb).toString('base64'))).toBeUndefined();
    expect(decodeKeyEncryptionKey(current.toString('hex').slice(2))).toBeUndefined();
    expect(decodeKeyEncryptionKey(randomBytes(48).toString('base64url'))).toBeUndefined();
  });
});
