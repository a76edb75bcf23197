/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9, SMART Backend Services
 * "Authenticating to the token endpoint"). Every failure is `invalid_client` (401):
 * - `client_assertion_type` must be `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`;
 * - the JOSE header must name a `kid` (SMART: REQUIRED) and an asymmetric `alg` of {@link ASSERTION_ALGS};
 * - a `jku` header must be exactly the client's registered `jwksUri`; nothing is ever fetched from a `jku` (or any
 *   URL the assertion names): keys come only from the registered `jwks` or `jwksUri`;
 * - `iss` = `sub` = the client id (and `client_id`, when sent, the same); the client uses `private_key_jwt`;
 * - signature, `aud` (the token endpoint, the issuer, or the endpoint called), `exp` (at most 5 minutes ahead);
 * - `jti` is single use per client (replay cache in the store until the assertion expires).
 */
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify, type ProtectedHeaderParameters } from 'jose';
import { OutboundRequestError } from '../../security/guarded-get';
import type { OAuthDeps } from '../deps';
import { InvalidClientError } from '../errors';
import type { OAuthProject } from '../project';
import { type ClientApplication, isClientActive, loadClientRecord } from './client-store';

/** Signature algorithms accepted for client assertions. */
export const ASSERTION_ALGS = ['RS256', 'RS384', 'ES256', 'ES384'] as const;
/** The only `client_assertion_type` (RFC 7523 §2.2). */
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Longest accepted assertion lifetime ahead of now (seconds). */
const MAX_ASSERTION_AHEAD = 300;

/** The unverified header and claims of an assertion, read only to find the client and its keys. */
function decodeAssertion(assertion: string): { header: ProtectedHeaderParameters; claims: Record<string, unknown> } {
  try {
    const header = decodeProtectedHeader(assertion);
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    if (typeof claims !== 'object' || claims === null) throw new Error('claims are not an object');
    return { header, claims: claims as Record<string, unknown> };
  } catch {
    throw new InvalidClientError('The client assertion is not a JWT');
  }
}

function checkHeader(header: ProtectedHeaderParameters): void {
  if (!(ASSERTION_ALGS as readonly string[]).includes(String(header.alg))) throw new InvalidClientError(`Client assertions must be signed with ${ASSERTION_ALGS.join(', ')}`);
  if (typeof header.kid !== 'string' || header.kid === '') throw new InvalidClientError('The client assertion header must name the signing key (kid)');
}

/**
 * The client's registered keys; a `jku` header is accepted only when it is exactly the registered `jwksUri`.
 * A `jwksUri` is fetched through the shared remote JWKS cache (src/security/remote-jwks.ts: https only, public
 * addresses only, size cap, deadline); a failure to fetch it is `invalid_client` saying why, never naming an address.
 * Request objects (RFC 9101) are verified with the same keys.
 * @param deps - OAuth dependencies
 * @param client - the client
 * @param header - the JOSE header of the JWT to verify (`kid`, `jku`)
 * @returns the key lookup
 * @throws InvalidClientError when the client has no usable keys or the jku is foreign
 */
export async function clientKeys(deps: OAuthDeps, client: ClientApplication, header: ProtectedHeaderParameters): Promise<JWTVerifyGetKey> {
  if (header.jku !== undefined && (typeof client.jwksUri !== 'string' || header.jku !== client.jwksUri)) {
    throw new InvalidClientError("The assertion's jku is not the client's registered jwksUri");
  }
  let jwks: JSONWebKeySet | undefined;
  if (client.jwks) {
    try {
      jwks = JSON.parse(client.jwks) as JSONWebKeySet;
    } catch {
      // An unparsable jwks falls through to the refusal below.
    }
  } else if (typeof client.jwksUri === 'string' && client.jwksUri !== '') {
    try {
      jwks = await deps.remoteJwks.keySet(client.jwksUri, header.kid);
    } catch (err) {
      if (err instanceof OutboundRequestError) throw new InvalidClientError(`The client's jwksUri ${err.message}`);
      throw err;
    }
  }
  try {
    if (jwks) return createLocalJWKSet(jwks);
  } catch {
    // Not a JWK Set: refused below.
  }
  throw new InvalidClientError('The client has no usable keys');
}

async function verifyAssertion(assertion: string, keys: JWTVerifyGetKey, clientId: string, audiences: string[]): Promise<{ exp: number; jti: string }> {
  try {
    const { payload } = await jwtVerify(assertion, keys, {
      algorithms: [...ASSERTION_ALGS],
      issuer: clientId,
      subject: clientId,
      audience: audiences,
      requiredClaims: ['exp', 'jti'],
    });
    return { exp: payload.exp as number, jti: String(payload.jti) };
  } catch {
    throw new InvalidClientError('The client assertion could not be verified');
  }
}

/**
 * Authenticates a client by its assertion.
 * @param deps - OAuth dependencies
 * @param project - the project
 * @param body - the form body (`client_assertion_type`, `client_id`)
 * @param assertion - `client_assertion`
 * @param audiences - what the assertion's `aud` may name
 * @returns the client
 * @throws InvalidClientError (401) for every failure
 */
export async function authenticateAssertion(
  deps: OAuthDeps,
  project: OAuthProject,
  body: Record<string, unknown>,
  assertion: string,
  audiences: string[],
): Promise<ClientApplication> {
  if (body.client_assertion_type !== ASSERTION_TYPE) throw new InvalidClientError(`client_assertion_type must be ${ASSERTION_TYPE}`);
  const { header, claims } = decodeAssertion(assertion);
  checkHeader(header);
  const clientId = typeof claims.iss === 'string' ? claims.iss : undefined;
  if (!clientId || claims.sub !== clientId || (body.client_id !== undefined && body.client_id !== clientId)) {
    throw new InvalidClientError('The assertion iss and sub must both be the client_id');
  }
  const record = await loadClientRecord(deps, project.key, clientId);
  if (!record || !isClientActive(record.client)) throw new InvalidClientError('Unknown or inactive client');
  const { client } = record;
  if (client.tokenEndpointAuthMethod !== 'private_key_jwt') throw new InvalidClientError('This client does not authenticate with private_key_jwt');
  const { exp, jti } = await verifyAssertion(assertion, await clientKeys(deps, client, header), clientId, audiences);
  if (exp - Math.floor(Date.now() / 1000) > MAX_ASSERTION_AHEAD) throw new InvalidClientError(`Client assertions may expire at most ${MAX_ASSERTION_AHEAD} seconds ahead`);
  const fresh = await deps.storage.records.insert({
    kind: 'client-assertion-jti',
    key: `${project.key}|${clientId}|${jti}`,
    value: { clientId },
    expiresAt: new Date((exp + 60) * 1000).toISOString(),
  });
  if (!fresh) throw new InvalidClientError('The client assertion was already used');
  return client;
}
