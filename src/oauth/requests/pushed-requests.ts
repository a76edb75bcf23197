/**
 * Pushed authorization requests (RFC 9126) as stored records: the parameters a client pushed, under the hash of a
 * random `request_uri` (`urn:ietf:params:oauth:request_uri:<256 random bits>`), for {@link PUSHED_REQUEST_LIFETIME}
 * seconds, bound to the project and the client, and used at most once (consumed atomically by the authorization
 * endpoint, whatever happens next).
 */
import type { RecordStore } from '../../storage/ports';
import { newOpaqueToken, tokenKey } from '../tokens/hash';

/** The `request_uri` prefix of pushed requests (RFC 9126 §2.2). */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
/** How long a `request_uri` may be used (seconds; RFC 9126 §2.2 suggests 5 to 600, FAPI 2.0 at most 600). */
export const PUSHED_REQUEST_LIFETIME = 60;
const KIND = 'pushed-authorization-request';

/** What a pushed request's record holds. */
interface PushedRequest {
  project: string;
  clientId: string;
  params: Record<string, string>;
}

/**
 * Stores pushed parameters.
 * @param records - the record store
 * @param project - the project key
 * @param clientId - the authenticated client
 * @param params - the authorization request's parameters (client credentials removed)
 * @returns the `request_uri` and its lifetime
 */
export async function storePushedRequest(records: RecordStore, project: string, clientId: string, params: Record<string, string>): Promise<{ requestUri: string; expiresIn: number }> {
  const requestUri = `${REQUEST_URI_PREFIX}${newOpaqueToken()}`;
  const value: PushedRequest = { project, clientId, params };
  await records.put({
    kind: KIND,
    key: tokenKey(requestUri),
    value: value as unknown as Record<string, unknown>,
    expiresAt: new Date(Date.now() + PUSHED_REQUEST_LIFETIME * 1000).toISOString(),
  });
  return { requestUri, expiresIn: PUSHED_REQUEST_LIFETIME };
}

/**
 * Takes a pushed request once. A `request_uri` of another project or another client is consumed all the same
 * (it was presented where it does not belong) and reported as unknown.
 * @param records - the record store
 * @param project - the project key
 * @param clientId - the `client_id` of the authorization request
 * @param requestUri - the `request_uri`
 * @returns the pushed parameters, or undefined when unknown, expired, used, or not this client's
 */
export async function takePushedRequest(records: RecordStore, project: string, clientId: string, requestUri: string): Promise<Record<string, string> | undefined> {
  if (!requestUri.startsWith(REQUEST_URI_PREFIX) || requestUri.length > 200) return undefined;
  const record = await records.consume(KIND, tokenKey(requestUri));
  if (!record) return undefined;
  const pushed = record.value as unknown as PushedRequest;
  if (pushed.project !== project || pushed.clientId !== clientId) return undefined;
  return { ...pushed.params };
}
