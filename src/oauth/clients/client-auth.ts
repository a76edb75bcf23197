/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3, RFC 7523 §3,
 * OIDC Core §9): `client_secret_basic`, `client_secret_post`, `private_key_jwt`, and `none` for public clients.
 * Exactly one method per request. Secrets are compared as salted hashes in constant time.
 * A client assertion's `aud` must name this server: the token endpoint URL (OIDC Core §9), the issuer identifier
 * (RFC 7523 §3; what openid-client and oauth4webapi send), or the URL of the endpoint called. Nothing else.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { verifySecret } from '../../security/hashing';
import type { OAuthDeps } from '../deps';
import { InvalidClientError, InvalidRequestError } from '../errors';
import type { OAuthProject } from '../project';
import { type ClientApplication, isClientActive, loadClientRecord } from './client-store';

/** Signature algorithms accepted for client assertions. */
export const ASSERTION_ALGS = ['RS256', 'RS384', 'ES256', 'ES384'] as const;
/** Authentication methods the server supports. */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Longest accepted assertion lifetime ahead of now (seconds). */
const MAX_ASSERTION_AHEAD = 300;
const JWKS_TIMEOUT_MS = 3000;

/** An authenticated client. */
export interface AuthenticatedClient {
  client: ClientApplication;
  method: (typeof AUTH_METHODS)[number];
}

const remoteKeySets = new Map<string, JWTVerifyGetKey>();

function remoteKeySet(uri: string): JWTVerifyGetKey {
  let set = remoteKeySets.get(uri);
  if (!set) {
    set = createRemoteJWKSet(new URL(uri), { timeoutDuration: JWKS_TIMEOUT_MS, cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 });
    remoteKeySets.set(uri, set);
  }
  return set;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidClientError('Malformed Basic credentials');
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    throw new InvalidClientError('Malformed Basic credentials');
  }
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * Authenticates the client of a token-endpoint-style request.
 * @param deps - OAuth dependencies
 * @param project - the project
 * @param authorization - the Authorization header
 * @param body - the form body
 * @param audiences - what a client assertion's `aud` may name: the issuer, the token endpoint URL, the URL called
 * @returns the client and the method used
 * @throws InvalidClientError (401) when authentication fails; InvalidRequestError when several methods are used
 */
export async function authenticateClient(
  deps: OAuthDeps,
  project: OAuthProject,
  authorization: string | undefined,
  body: Record<string, unknown>,
  audiences: string[],
): Promise<AuthenticatedClient> {
  const basic = basicCredentials(authorization);
  const postSecret = str(body.client_secret);
  const assertion = str(body.client_assertion);
  const used = [basic, postSecret, assertion].filter((m) => m !== undefined).length;
  if (used > 1) throw new InvalidRequestError('Use exactly one client authentication method');
  if (assertion !== undefined) return assertionClient(deps, project, body, assertion, audiences);
  const clientId = basic?.id ?? str(body.client_id);
  if (!clientId) throw new InvalidClientError('Client authentication is required');
  if (basic && body.client_id !== undefined && body.client_id !== basic.id) throw new InvalidRequestError('client_id does not match the Basic credentials');
  const record = await loadClientRecord(deps, project.key, clientId);
  if (!record || !isClientActive(record.client)) throw new InvalidClientError('Unknown or inactive client');
  const method = record.client.tokenEndpointAuthMethod ?? 'client_secret_basic';
  const secret = basic?.secret ?? postSecret;
  if (secret === undefined) {
    if (method !== 'none') throw new InvalidClientError('This client must authenticate');
    return { client: record.client, method: 'none' };
  }
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') throw new InvalidClientError(`This client authenticates with ${method}`);
  if (!record.secretHash || !verifySecret(secret, record.secretHash)) throw new InvalidClientError('Invalid client credentials');
  return { client: record.client, method: basic ? 'client_secret_basic' : 'client_secret_post' };
}

async function assertionClient(
  deps: OAuthDeps,
  project: OAuthProject,
  body: Record<string, unknown>,
  assertion: string,
  audiences: string[],
): Promise<AuthenticatedClient> {
  if (body.client_assertion_type !== ASSERTION_TYPE) throw new InvalidRequestError(`client_assertion_type must be ${ASSERTION_TYPE}`);
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(assertion);
    const payload = assertion.split('.')[1] ?? '';
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InvalidClientError('The client assertion is not a JWT');
  }
  if (!(ASSERTION_ALGS as readonly string[]).includes(String(header.alg))) throw new InvalidClientError(`Client assertions must be signed with ${ASSERTION_ALGS.join(', ')}`);
  const clientId = str(claims.iss);
  if (!clientId || claims.sub !== clientId || (body.client_id !== undefined && body.client_id !== clientId)) {
    throw new InvalidClientError('The assertion iss and sub must both be the client_id');
  }
  const record = await loadClientRecord(deps, project.key, clientId);
  if (!record || !isClientActive(record.client)) throw new InvalidClientError('Unknown or inactive client');
  const { client } = record;
  if (client.tokenEndpointAuthMethod !== 'private_key_jwt') throw new InvalidClientError('This client does not authenticate with private_key_jwt');
  let keys: JWTVerifyGetKey;
  try {
    if (client.jwks) keys = createLocalJWKSet(JSON.parse(client.jwks) as Parameters<typeof createLocalJWKSet>[0]);
    else if (client.jwksUri) keys = remoteKeySet(client.jwksUri);
    else throw new Error('no keys');
  } catch {
    throw new InvalidClientError('The client has no usable keys');
  }
  let verified: Record<string, unknown>;
  try {
    ({ payload: verified } = await jwtVerify(assertion, keys, {
      algorithms: [...ASSERTION_ALGS],
      issuer: clientId,
      subject: clientId,
      audience: audiences,
      requiredClaims: ['exp', 'jti'],
    }));
  } catch {
    throw new InvalidClientError('The client assertion could not be verified');
  }
  const now = Math.floor(Date.now() / 1000);
  const exp = verified.exp as number;
  if (exp - now > MAX_ASSERTION_AHEAD) throw new InvalidClientError(`Client assertions may expire at most ${MAX_ASSERTION_AHEAD} seconds ahead`);
  const jti = String(verified.jti);
  const fresh = await deps.storage.records.insert({
    kind: 'client-assertion-jti',
    key: `${project.key}|${clientId}|${jti}`,
    value: { clientId },
    expiresAt: new Date((exp + 60) * 1000).toISOString(),
  });
  if (!fresh) throw new InvalidClientError('The client assertion was already used');
  return { client, method: 'private_key_jwt' };
}
