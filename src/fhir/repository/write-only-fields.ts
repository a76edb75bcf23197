/**
 * Write-only credentials on the auth resources (DESIGN §4):
 * - `ClientApplication.secret`: hashed on write (salted SHA-256); generated and returned once when a confidential
 *   client is created without one; never returned by read, vread, search or history.
 * - `User.password`: hashed with scrypt; never returned.
 * A write that omits the field keeps the stored hash, so a client can PUT back what it read.
 * Also derives the unique keys of a resource (`User.email` per project).
 */
import { generateSecret, hashPassword, hashSecret } from '../../security/hashing';
import { BadRequestError } from '../errors';

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

/**
 * Hashes write-only fields, carrying over stored hashes the new version omits.
 * @param resource - the validated incoming resource (not modified)
 * @param previous - the stored current version, when updating
 * @returns the resource to store and any generated secret
 */
export async function prepareForStorage(resource: Json, previous?: Json): Promise<PreparedResource> {
  switch (resource.resourceType) {
    case 'ClientApplication':
      return prepareClient(resource, previous);
    case 'User':
      return prepareUser(resource, previous);
    default:
      return { stored: resource };
  }
}

function prepareClient(resource: Json, previous?: Json): PreparedResource {
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
  if ('secret' in resource && resource.resourceType === 'ClientApplication') {
    const { secret: _secret, ...rest } = resource;
    return rest as T;
  }
  if ('password' in resource && resource.resourceType === 'User') {
    const { password: _password, ...rest } = resource;
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
  if (resource.resourceType === 'User' && typeof resource.email === 'string') {
    return [`User.email|${resource.email.trim().toLowerCase()}`];
  }
  return undefined;
}
