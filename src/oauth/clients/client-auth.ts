/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3, RFC 7523 §3,
 * OIDC Core §9): `client_secret_basic`, `client_secret_post`, `private_key_jwt` (client-assertion.ts), and `none`
 * for public clients. Secrets are compared as salted hashes in constant time.
 * Which error: a failed authentication is always 401 `invalid_client` (RFC 6749 §5.2), whatever the method. Only a
 * malformed request is 400 `invalid_request`: more than one method in one request (§2.3: "MUST NOT use more than
 * one authentication method"), or a `client_id` that contradicts the Basic credentials; repeated parameters are
 * refused before this step (endpoints/steps.ts).
 */
import { verifySecret } from '../../security/hashing';
import type { OAuthDeps } from '../deps';
import { InvalidClientError, InvalidRequestError } from '../errors';
import type { OAuthProject } from '../project';
import { authenticateAssertion } from './client-assertion';
import { type ClientApplication, isClientActive, loadClientRecord } from './client-store';

export { ASSERTION_ALGS } from './client-assertion';

/** Authentication methods the server supports. */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

/** An authenticated client. */
export interface AuthenticatedClient {
  client: ClientApplication;
  method: (typeof AUTH_METHODS)[number];
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
  // An assertion attempt is either assertion parameter; a lone client_assertion_type is a failed attempt.
  const assertionUsed = assertion !== undefined || body.client_assertion_type !== undefined;
  const used = [basic !== undefined, postSecret !== undefined, assertionUsed].filter(Boolean).length;
  if (used > 1) throw new InvalidRequestError('Use exactly one client authentication method');
  if (assertionUsed) {
    if (assertion === undefined) throw new InvalidClientError('client_assertion is missing');
    return { client: await authenticateAssertion(deps, project, body, assertion, audiences), method: 'private_key_jwt' };
  }
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
