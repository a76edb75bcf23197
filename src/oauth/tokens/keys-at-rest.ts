/**
 * Start-up step for the signing keys at rest, run by the server and the `keys` command before anything else uses
 * the store:
 * 1. resolve the key-encryption key (KEY_ENCRYPTION_KEY, or the development key file in DATA_DIR);
 * 2. open every stored private key with it: a key sealed by a KEK that is not configured, or a damaged record,
 *    stops the start with a message naming KEY_ENCRYPTION_KEY (no key is created or changed);
 * 3. only then write a newly generated development key to its file;
 * 4. seal keys still stored in clear (records from before encryption) and re-seal keys sealed by
 *    KEY_ENCRYPTION_KEY_PREVIOUS with KEY_ENCRYPTION_KEY; then compact the store, so the embedded journal no
 *    longer holds the former values.
 */
import type { Config } from '../../config/schema';
import { type KeyEncryption, KeyEncryptionError } from '../../security/key-encryption';
import { resolveKeyEncryption, type ResolvedKeyEncryption } from '../../security/key-encryption-key';
import type { StorageLogger } from '../../storage/logger';
import type { RecordStore, Storage, StoredRecord } from '../../storage/ports';
import { keyRecordOf, openPrivateJwk, resealed, SIGNING_KEY_KIND } from './key-record';

/** What the start-up step found and did. */
export interface KeysAtRest extends ResolvedKeyEncryption {
  /** Stored keys checked. */
  checked: number;
  /** Keys that were stored in clear and are now sealed. */
  sealed: number;
  /** Keys sealed by the previous KEK and now re-sealed by the current one. */
  resealed: number;
}

/**
 * Checks that every stored signing key opens with the configured key-encryption key, then seals clear keys and
 * re-seals keys of the previous KEK.
 *
 * @param records - the record store
 * @param encryption - the key-encryption keys
 * @param beforeWrite - runs once every key is known to open, before any record is written
 * @returns counts of keys checked, sealed and re-sealed
 * @throws KeyEncryptionError when a stored key does not open
 */
export async function secureStoredKeys(
  records: RecordStore,
  encryption: KeyEncryption,
  beforeWrite: () => void = () => undefined,
): Promise<Pick<KeysAtRest, 'checked' | 'sealed' | 'resealed'>> {
  const stored = await records.find(SIGNING_KEY_KIND);
  const pending: StoredRecord[] = [];
  for (const record of stored) {
    const value = keyRecordOf(record);
    openPrivateJwk(encryption, value);
    if (!value.encryptedPrivateJwk || !encryption.isCurrent(value.encryptedPrivateJwk)) pending.push(record);
  }
  beforeWrite();
  let sealed = 0;
  let resealedCount = 0;
  for (const { kind, key } of pending) {
    // Read again just before writing: another instance may have retired the key meanwhile.
    const current = await records.get(kind, key);
    if (!current) continue;
    const value = keyRecordOf(current);
    if (value.encryptedPrivateJwk && encryption.isCurrent(value.encryptedPrivateJwk)) continue;
    await records.put({ ...current, value: resealed(encryption, value) as unknown as Record<string, unknown> });
    if (value.encryptedPrivateJwk) resealedCount++;
    else sealed++;
  }
  return { checked: stored.length, sealed, resealed: resealedCount };
}

/**
 * Resolves the key-encryption key and secures the stored signing keys with it (see the module comment).
 *
 * @param config - the configuration
 * @param storage - the open storage
 * @param logger - receives what was done (never key material)
 * @returns the key-encryption keys, where they came from and what was done
 * @throws KeyEncryptionError when a stored key does not open with the configured key
 */
export async function prepareKeysAtRest(config: Config, storage: Storage, logger: StorageLogger): Promise<KeysAtRest> {
  const resolved = resolveKeyEncryption(config, logger);
  let counts: Awaited<ReturnType<typeof secureStoredKeys>>;
  try {
    counts = await secureStoredKeys(storage.records, resolved.encryption, () => resolved.persist());
  } catch (err) {
    if (!(err instanceof KeyEncryptionError) || resolved.source !== 'generated') throw err;
    throw new KeyEncryptionError(
      `${err.message.replace(/^KEY_ENCRYPTION_KEY: /, '')} (KEY_ENCRYPTION_KEY is unset and ${resolved.file} is missing, ` +
        'so a new key was generated and not saved: restore that file or set KEY_ENCRYPTION_KEY)',
    );
  }
  const { encryption, source } = resolved;
  // The embedded journal still holds the former (clear or previous-KEK) values: rewrite it without them.
  if (counts.sealed + counts.resealed > 0) await storage.compact();
  if (counts.sealed > 0) logger.warn({ keys: counts.sealed, kekId: encryption.kekId }, 'signing keys stored in clear were encrypted');
  if (counts.resealed > 0) {
    logger.info({ keys: counts.resealed, kekId: encryption.kekId, previousKekId: encryption.previousKekId }, 'signing keys re-encrypted with the current key-encryption key');
  }
  logger.info({ kekId: encryption.kekId, source, file: resolved.file, keys: counts.checked }, 'signing keys encrypted at rest');
  return { ...resolved, ...counts };
}
