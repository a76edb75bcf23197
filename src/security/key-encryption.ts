/**
 * Encryption of secrets at rest (the private signing keys): a key-encryption key (KEK) from the environment seals
 * each secret with AES-256-GCM, a random 96-bit IV per seal, and additional authenticated data naming the record
 * it belongs to (so a sealed value copied into another record does not open). A sealed value carries the id of the
 * KEK that sealed it, a fingerprint derived from the key, so a second (previous) KEK can be accepted during a
 * rotation and a wrong KEK is recognised before anything is decrypted.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/** The only algorithm: AES-256-GCM (JWA name). */
export const SEAL_ALG = 'A256GCM';
const IV_BYTES = 12;
const KEY_BYTES = 32;
/** A full 128-bit tag; a shorter one is refused (GCM would otherwise accept truncated tags). */
const TAG_BYTES = 16;
const KEK_ID_LABEL = 'fhir-smart-server key-encryption-key id v1';

/** A sealed secret as stored. All binary members are base64url. */
export interface SealedSecret {
  alg: typeof SEAL_ALG;
  /** Fingerprint of the KEK that sealed it. */
  kekId: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

/** A sealed secret cannot be opened: another KEK sealed it, or it was altered. The message names the variable. */
export class KeyEncryptionError extends Error {
  constructor(message: string) {
    super(`KEY_ENCRYPTION_KEY: ${message}`);
    this.name = 'KeyEncryptionError';
  }
}

/**
 * The id of a KEK: the first 12 bytes of HMAC-SHA-256(kek, label), base64url. It identifies the key without
 * revealing anything usable about it.
 *
 * @param kek - a 32-byte key
 * @returns a 16-character id
 */
export function kekIdOf(kek: Uint8Array): string {
  return createHmac('sha256', kek).update(KEK_ID_LABEL).digest().subarray(0, 12).toString('base64url');
}

/**
 * Decodes a KEK as written in the environment or a key file: 64 hex digits or 43 base64url characters (44 with
 * one `=` of padding). The two spellings have different lengths, so neither can be mistaken for the other.
 *
 * @param text - the key as text
 * @returns the 32-byte key, or undefined when the text is neither spelling
 */
export function decodeKeyEncryptionKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const b64 = text.replace(/=$/, '');
  if (!/^[A-Za-z0-9_-]{43}$/.test(b64)) return undefined;
  const key = Buffer.from(b64, 'base64url');
  // The 43rd character carries 2 unused bits: only the canonical spelling is a key.
  return key.length === KEY_BYTES && key.toString('base64url') === b64 ? key : undefined;
}

/**
 * Tells a stored value that is a sealed secret from anything else.
 *
 * @param value - a stored value
 * @returns true when it has the shape of a {@link SealedSecret}
 */
export function isSealedSecret(value: unknown): value is SealedSecret {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return v.alg === SEAL_ALG && ['kekId', 'iv', 'tag', 'ciphertext'].every((m) => typeof v[m] === 'string');
}

/** The current KEK (seals and opens) and optionally the previous one (opens only). */
export class KeyEncryption {
  /** Id of the current KEK. */
  readonly kekId: string;
  /** Id of the previous KEK, when one is configured. */
  readonly previousKekId: string | undefined;
  private readonly keys = new Map<string, Buffer>();

  /**
   * @param current - the KEK new seals use (32 bytes)
   * @param previous - a former KEK still accepted for opening (32 bytes)
   */
  constructor(current: Uint8Array, previous?: Uint8Array) {
    for (const key of [current, previous]) {
      if (key && key.length !== KEY_BYTES) throw new KeyEncryptionError(`a key-encryption key must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    this.kekId = kekIdOf(current);
    this.keys.set(this.kekId, Buffer.from(current));
    this.previousKekId = previous ? kekIdOf(previous) : undefined;
    if (previous && this.previousKekId) this.keys.set(this.previousKekId, Buffer.from(previous));
  }

  /**
   * Seals a secret with the current KEK.
   *
   * @param plaintext - the secret
   * @param aad - names the record the secret belongs to; the same string is needed to open it
   * @returns the sealed secret
   */
  seal(plaintext: Uint8Array, aad: string): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.kekId) as Buffer, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      alg: SEAL_ALG,
      kekId: this.kekId,
      iv: iv.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
      ciphertext: ciphertext.toString('base64url'),
    };
  }

  /**
   * True when a sealed secret was sealed by the current KEK (false: by the previous one or an unknown one).
   *
   * @param sealed - a sealed secret
   */
  isCurrent(sealed: SealedSecret): boolean {
    return sealed.kekId === this.kekId;
  }

  /**
   * Opens a sealed secret with the KEK it names.
   *
   * @param sealed - the sealed secret
   * @param aad - the string it was sealed with
   * @param what - names the secret in error messages
   * @returns the secret
   * @throws KeyEncryptionError when the KEK is not configured, or the value or its record was altered
   */
  open(sealed: SealedSecret, aad: string, what: string): Buffer {
    const key = this.keys.get(sealed.kekId);
    if (!key) {
      const configured = this.previousKekId ? `${this.kekId} and KEY_ENCRYPTION_KEY_PREVIOUS ${this.previousKekId}` : this.kekId;
      throw new KeyEncryptionError(
        `${what} is encrypted with key-encryption key ${sealed.kekId}, but the configured key is ${configured}. ` +
          'Set KEY_ENCRYPTION_KEY to the key the store was encrypted with (to change keys, set the new one as ' +
          'KEY_ENCRYPTION_KEY and the old one as KEY_ENCRYPTION_KEY_PREVIOUS).',
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64url')), decipher.final()]);
    } catch (err) {
      throw Object.assign(new KeyEncryptionError(`${what} does not decrypt with key-encryption key ${sealed.kekId}: the stored value was altered`), { cause: err });
    }
  }
}
