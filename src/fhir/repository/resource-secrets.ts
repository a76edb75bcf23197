/**
 * Secrets inside resources that the server must be able to use again, not just verify: the
 * `IdentityProvider.clientSecret` this server presents to an upstream identity provider. They are sealed with the
 * key-encryption key (KEY_ENCRYPTION_KEY, the same facility that seals the private signing keys; docs/oauth.md
 * "Keys at rest"), with additional authenticated data naming the project, resource and element, so a sealed value
 * copied into another resource does not open. The app registers its KEK for its resource store once; every
 * repository over that store seals with it.
 */
import { isSealedSecret, type KeyEncryption, type SealedSecret } from '../../security/key-encryption';
import type { ResourceStore } from '../../storage/ports';

const registered = new WeakMap<ResourceStore, KeyEncryption>();

/**
 * Registers the key-encryption keys that seal resource secrets written to a store.
 * @param store - the resource store
 * @param keys - the key-encryption keys
 */
export function useResourceSecrets(store: ResourceStore, keys: KeyEncryption): void {
  registered.set(store, keys);
}

/**
 * The key-encryption keys registered for a store.
 * @param store - the resource store
 * @returns the keys, or undefined when none were registered
 */
export function resourceSecretsFor(store: ResourceStore): KeyEncryption | undefined {
  return registered.get(store);
}

/**
 * The additional authenticated data of one sealed element.
 * @param project - the project key
 * @param type - the resource type
 * @param id - the resource id
 * @param element - the element name
 * @returns the AAD string
 */
export function secretAad(project: string, type: string, id: string, element: string): string {
  return `resource-secret|${project}|${type}/${id}|${element}`;
}

/**
 * Seals a secret for storage.
 * @param keys - the key-encryption keys
 * @param plaintext - the secret
 * @param aad - from {@link secretAad}
 * @returns the sealed value
 */
export function sealResourceSecret(keys: KeyEncryption, plaintext: string, aad: string): SealedSecret {
  return keys.seal(Buffer.from(plaintext, 'utf8'), aad);
}

/**
 * Opens a stored secret.
 * @param keys - the key-encryption keys
 * @param stored - the stored value
 * @param aad - from {@link secretAad}
 * @returns the secret, or undefined when nothing sealed is stored
 * @throws KeyEncryptionError when the value does not open with the configured keys
 */
export function openResourceSecret(keys: KeyEncryption, stored: unknown, aad: string): string | undefined {
  if (!isSealedSecret(stored)) return undefined;
  return keys.open(stored, aad, 'a resource secret').toString('utf8');
}
