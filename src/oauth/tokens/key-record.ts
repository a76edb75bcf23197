/**
 * The stored form of a signing key (record kind `signing-key`, key `{project}|{kid}`). The public JWK is stored in
 * clear (it is published in the JWKS); the private JWK only sealed with the key-encryption key, bound to its
 * project and kid. Both storage adapters receive this form: the encryption happens above the storage port.
 * Records written before encryption existed hold `privateJwk` in clear; they are still read, and sealed at start.
 */
import type { JWK } from 'jose';
import { isSealedSecret, type KeyEncryption, type SealedSecret } from '../../security/key-encryption';
import type { StoredRecord } from '../../storage/ports';

/** Record kind of signing keys. */
export const SIGNING_KEY_KIND = 'signing-key';

/** A stored signing key. */
export interface KeyRecord {
  project: string;
  kid: string;
  alg: string;
  publicJwk: JWK;
  /** The private JWK, sealed. */
  encryptedPrivateJwk?: SealedSecret;
  /** The private JWK in clear: only in records written before keys were encrypted. */
  privateJwk?: JWK;
  createdAt: string;
  retiredAt?: string;
  removeAfter?: string;
}

/**
 * The record value of a signing-key record.
 *
 * @param record - a record of kind `signing-key`
 * @returns its value
 */
export function keyRecordOf(record: StoredRecord): KeyRecord {
  return record.value as unknown as KeyRecord;
}

function aadOf(value: Pick<KeyRecord, 'project' | 'kid'>): string {
  return `${SIGNING_KEY_KIND}|${value.project}|${value.kid}`;
}

/**
 * Seals a private JWK for a key record.
 *
 * @param encryption - the key-encryption keys
 * @param value - the record's project and kid (authenticated with the ciphertext)
 * @param privateJwk - the private key
 * @returns the sealed private key
 */
export function sealPrivateJwk(encryption: KeyEncryption, value: Pick<KeyRecord, 'project' | 'kid'>, privateJwk: JWK): SealedSecret {
  return encryption.seal(Buffer.from(JSON.stringify(privateJwk), 'utf8'), aadOf(value));
}

/**
 * The private JWK of a key record, opened (or as stored, for a record from before encryption).
 *
 * @param encryption - the key-encryption keys
 * @param value - the key record
 * @returns the private JWK
 * @throws KeyEncryptionError when the record's KEK is not configured or the record was altered
 */
export function openPrivateJwk(encryption: KeyEncryption, value: KeyRecord): JWK {
  if (isSealedSecret(value.encryptedPrivateJwk)) {
    const what = `the signing key ${value.kid} of project ${value.project}`;
    return JSON.parse(encryption.open(value.encryptedPrivateJwk, aadOf(value), what).toString('utf8')) as JWK;
  }
  if (value.privateJwk) return value.privateJwk;
  throw new Error(`the signing key ${value.kid} of project ${value.project} has no private key`);
}

/**
 * A key record with its private key sealed by the current KEK (the clear `privateJwk` member removed).
 *
 * @param encryption - the key-encryption keys
 * @param value - a key record, clear or sealed by any configured KEK
 * @returns the record to store
 */
export function resealed(encryption: KeyEncryption, value: KeyRecord): KeyRecord {
  const { privateJwk: _clear, ...rest } = value;
  return { ...rest, encryptedPrivateJwk: sealPrivateJwk(encryption, value, openPrivateJwk(encryption, value)) };
}
