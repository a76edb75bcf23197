/**
 * Write-only credentials on the auth resources (DESIGN §4):
 * - `ClientApplication.secret`: hashed on write (salted SHA-256); generated and returned once when a confidential
 *   client is created without one; never returned by read, vread, search or history.
 * - `ClientApplication.registrationAccessToken` (RFC 7592, dynamically registered clients): hashed on write like
 *   the secret, never returned.
 * - `User.password`: hashed with scrypt; never returned.
 * - `IdentityProvider.clientSecret`: sealed with the key-encryption key (resource-secrets.ts), because the server
 *   must present it to the provider; never returned.
 * A write that omits the field keeps the stored hash, so a client can PUT back what it read.
 * Also derives the unique keys of a resource (`User.email` per project, `Project` tenant/name).
 */
import { generateSecret, hashPassword, hashSecret } from '../../security/hashing';
import type { KeyEncryption } from '../../security/key-encryption';
import { BadRequestError } from '../errors';
import { sealResourceSecret, secretAad } from './resource-secrets';

type Json = Record<string, unknown>;

/** The outcome of preparing a resource for storage. */
export interface PreparedResource {
  /** The resource as it will be stored (credentials hashed). */
  stored: Json;
  /** A secret the server generated; shown once in the create response. */
  generatedSecret?: string;
}

const CONFIDENTIAL_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

/**
 * Whether a ClientApplication authenticates with a shared secret. Without an explicit
 * `tokenEndpointAuthMethod`, a client that may use client_credentials is confidential (client_secret_basic).
 * @param client - the ClientApplication
 * @returns true for secret-based clients
 */
export function usesClientSecret(client: Json): boolean {
  const method = client.tokenEndpointAuthMethod;
  if (typeof method === 'string') return CONFIDENTIAL_METHODS.has(method);
  return Array.isArray(client.grantType) && client.grantType.includes('client_credentials');
}

/** Where a resource is written: what sealing a secret needs. */
export interface StorageTarget {
  project: string;
  /** The key-encryption keys; without them a secret that must be sealed is refused. */
  secrets?: KeyEncryption;
}

/**
 * Hashes or seals write-only fields, carrying over stored values the new version omits.
 * @param resource - the validated incoming resource (not modified)
 * @param previous - the stored current version, when updating
 * @param target - the project and the key-encryption keys
 * @returns the resource to store and any generated secret
 */
export async function prepareForStorage(resource: Json, previous?: Json, target?: StorageTarget): Promise<PreparedResource> {
  switch (resource.resourceType) {
    case 'IdentityProvider':
      return prepareIdentityProvider(resource, previous, target);
    case 'ClientApplication':
      return prepareClient(resource, previous);
    case 'User':
      return prepareUser(resource, previous);
    default:
      return { stored: resource };
  }
}

function prepareClient(resource: Json, previous?: Json): PreparedResource {
  const prepared = prepareClientSecret(resource, previous);
  if (typeof resource.registrationAccessToken === 'string') {
    prepared.stored.registrationAccessToken = hashSecret(resource.registrationAccessToken);
  } else if (typeof previous?.registrationAccessToken === 'string') {
    prepared.stored.registrationAccessToken = previous.registrationAccessToken;
  }
  return prepared;
}

function prepareClientSecret(resource: Json, previous?: Json): PreparedResource {
  const stored = { ...resource };
  const method = resource.tokenEndpointAuthMethod;
  if (typeof resource.secret === 'string') {
    if (method === 'none' || method === 'private_key_jwt') {
      throw new BadRequestError(
        `A client with tokenEndpointAuthMethod '${method}' must not have a secret`,
        ['ClientApplication.secret'],
      );
    }
    stored.secret = hashSecret(resource.secret);
    return { stored };
  }
  if (!usesClientSecret(resource)) {
    delete stored.secret;
    return { stored };
  }
  if (typeof previous?.secret === 'string') {
    stored.secret = previous.secret;
    return { stored };
  }
  const generatedSecret = generateSecret();
  stored.secret = hashSecret(generatedSecret);
  return { stored, generatedSecret };
}

const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

function prepareIdentityProvider(resource: Json, previous: Json | undefined, target: StorageTarget | undefined): PreparedResource {
  const stored = { ...resource };
  const method = typeof resource.tokenEndpointAuthMethod === 'string' ? resource.tokenEndpointAuthMethod : 'client_secret_basic';
  if (!SECRET_METHODS.has(method)) {
    if (resource.clientSecret !== undefined) {
      throw new BadRequestError(`An IdentityProvider with tokenEndpointAuthMethod '${method}' must not have a clientSecret`, ['IdentityProvider.clientSecret']);
    }
    delete stored.clientSecret;
    return { stored };
  }
  if (typeof resource.clientSecret === 'string') {
    if (!target?.secrets) throw new BadRequestError('The server cannot store a clientSecret: no key-encryption key is configured', ['IdentityProvider.clientSecret']);
    stored.clientSecret = sealResourceSecret(target.secrets, resource.clientSecret, secretAad(target.project, 'IdentityProvider', String(resource.id), 'clientSecret'));
    return { stored };
  }
  if (previous?.clientSecret !== undefined && previous.clientId === resource.clientId && previous.tokenEndpoint === resource.tokenEndpoint && previous.issuer === resource.issuer) {
    stored.clientSecret = previous.clientSecret;
    return { stored };
  }
  throw new BadRequestError(`An IdentityProvider with tokenEndpointAuthMethod '${method}' needs a clientSecret`, ['IdentityProvider.clientSecret']);
}

async function prepareUser(resource: Json, previous?: Json): Promise<PreparedResource> {
  const stored = { ...resource };
  if (typeof resource.password === 'string') {
    stored.password = await hashPassword(resource.password);
  } else if (typeof previous?.password === 'string') {
    stored.password = previous.password;
  }
  return { stored };
}

/**
 * Removes write-only fields before a resource leaves the server.
 * @param resource - a stored resource
 * @returns a copy without credentials (the same object when there are none)
 */
export function toPublicView<T extends Json>(resource: T): T {
  if (('secret' in resource || 'registrationAccessToken' in resource) && resource.resourceType === 'ClientApplication') {
    const { secret: _secret, registrationAccessToken: _registrationAccessToken, ...rest } = resource;
    return rest as T;
  }
  if ('password' in resource && resource.resourceType === 'User') {
    const { password: _password, ...rest } = resource;
    return rest as T;
  }
  if ('clientSecret' in resource && resource.resourceType === 'IdentityProvider') {
    const { clientSecret: _clientSecret, ...rest } = resource;
    return rest as T;
  }
  return resource;
}

/**
 * Keys that must be unique among a project's current resources.
 * @param resource - the resource to be stored
 * @returns unique keys (e.g. `User.email|ada@example.com`), or undefined
 */
export function uniqueKeysFor(resource: Json): string[] | undefined {
  if (resource.resourceType === 'User') {
    const keys = typeof resource.email === 'string' ? [`User.email|${resource.email.trim().toLowerCase()}`] : [];
    // One User per account at a provider: the identity (provider, subject) is unique in the project.
    for (const identity of Array.isArray(resource.identity) ? (resource.identity as Json[]) : []) {
      const provider = (identity.provider as Json | undefined)?.reference;
      if (typeof provider === 'string' && typeof identity.subject === 'string') keys.push(userIdentityKey(provider, identity.subject));
    }
    return keys.length > 0 ? keys : undefined;
  }
  // One Project per tenant/name in the system project.
  if (resource.resourceType === 'Project' && typeof resource.tenant === 'string' && typeof resource.name === 'string') {
    return [`Project.name|${resource.tenant}/${resource.name}`];
  }
  return undefined;
}

/**
 * The unique key of a linked identity, also how a sign-in finds its User.
 * @param providerReference - `IdentityProvider/{id}`
 * @param subject - the provider's `sub`
 * @returns the key
 */
export function userIdentityKey(providerReference: string, subject: string): string {
  return `User.identity|${providerReference}|${subject}`;
}
