/**
 * Signing keys at rest, for every storage adapter: the key records the key store writes through the port hold no
 * private JWK member in clear; a clear record from before encryption is sealed by the start-up step and keeps
 * signing with the same key; a KEK that did not seal the keys opens nothing.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, type KeyLike, SignJWT } from 'jose';
import { keyRecordOf, openPrivateJwk } from '../../src/oauth/tokens/key-record';
import { KeyStore } from '../../src/oauth/tokens/keys';
import { secureStoredKeys } from '../../src/oauth/tokens/keys-at-rest';
import { KeyEncryption, KeyEncryptionError } from '../../src/security/key-encryption';
import type { Storage, StoredRecord } from '../../src/storage/ports';
import { type CleanupStorage, useStorage } from './contract-harness';

/** The private members of an RSA (and EC/OKP/oct) JWK. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * The private JWK members found in clear in a text: `"d":`, `"p":`… anywhere in it.
 * @param text - a file or a serialized record
 * @returns the members found
 */
export function clearPrivateMembers(text: string): string[] {
  return PRIVATE_JWK_MEMBERS.filter((m) => text.includes(`"${m}":`));
}

/**
 * Registers the contract tests.
 *
 * @param name - adapter name shown in test titles
 * @param open - opens a fresh storage (called before each test)
 * @param cleanup - runs after each test once the storage is closed
 */
export function signingKeysAtRestContract(name: string, open: () => Promise<Storage>, cleanup?: CleanupStorage): void {
  describe(`${name}: signing keys at rest`, () => {
    const ctx = useStorage(open, cleanup);
    // One KEK for the suite: a shared MongoDB database holds the records of every test of the run.
    const kek = new KeyEncryption(randomBytes(32));
    const storedKeys = async (project: string): Promise<StoredRecord[]> => ctx().storage.records.find('signing-key', { project });

    test('stores the private key sealed: no private JWK member in clear, the public key in clear', async () => {
      const { storage, project } = ctx();
      const keys = new KeyStore(storage.records, kek);
      await keys.activeKey(project);
      await keys.rotate(project);
      const records = await storedKeys(project);
      expect(records).toHaveLength(2);
      for (const record of records) {
        expect(clearPrivateMembers(JSON.stringify(record))).toEqual([]);
        const value = keyRecordOf(record);
        expect(value.privateJwk).toBeUndefined();
        expect(value.encryptedPrivateJwk).toEqual({ alg: 'A256GCM', kekId: kek.kekId, iv: expect.any(String), tag: expect.any(String), ciphertext: expect.any(String) });
        expect(Object.keys(value.publicJwk).sort()).toEqual(['e', 'kty', 'n']);
        expect(openPrivateJwk(kek, value)).toMatchObject({ kty: 'RSA', n: value.publicJwk.n, d: expect.any(String), p: expect.any(String) });
      }
      // Another instance with the same KEK signs and verifies with the stored keys.
      const active = await new KeyStore(storage.records, kek).activeKey(project);
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: active.kid }).sign(active.privateKey);
      await expect(jwtVerify(jwt, (await keys.verificationKey(project, active.kid))?.publicKey as KeyLike)).resolves.toBeDefined();
    });

    test('a KEK that did not seal the keys opens none of them, with a message naming KEY_ENCRYPTION_KEY', async () => {
      const { storage, project } = ctx();
      await new KeyStore(storage.records, kek).activeKey(project);
      const other = new KeyStore(storage.records, new KeyEncryption(randomBytes(32)));
      await expect(other.activeKey(project)).rejects.toThrow(KeyEncryptionError);
      await expect(other.activeKey(project)).rejects.toThrow(new RegExp(`^KEY_ENCRYPTION_KEY: the signing key [0-9a-f-]{36} of project ${project} is encrypted with key-encryption key ${kek.kekId}, but the configured key is`));
      expect(await storedKeys(project)).toHaveLength(1);
    });

    test('seals a key stored in clear before encryption existed; the same key keeps signing', async () => {
      const { storage, project } = ctx();
      const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
      const kid = `legacy-${project}`;
      const legacy = { project, kid, alg: 'RS256', publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey), createdAt: new Date().toISOString() };
      await storage.records.put({ kind: 'signing-key', key: `${project}|${kid}`, value: legacy });
      expect(clearPrivateMembers(JSON.stringify(await storedKeys(project)))).toEqual(['d', 'p', 'q', 'dp', 'dq', 'qi']);

      const result = await secureStoredKeys(storage.records, kek);
      expect(result.sealed).toBeGreaterThanOrEqual(1);
      const [record] = await storedKeys(project);
      expect(clearPrivateMembers(JSON.stringify(record))).toEqual([]);
      expect(keyRecordOf(record as StoredRecord).encryptedPrivateJwk?.kekId).toBe(kek.kekId);
      const active = await new KeyStore(storage.records, kek).activeKey(project);
      expect(active.kid).toBe(kid);
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).sign(active.privateKey);
      await expect(jwtVerify(jwt, publicKey)).resolves.toBeDefined();
    });
  });
}
