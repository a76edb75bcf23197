/**
 * The parameters an authorization request really carries, decided before anything else is validated:
 * - `request_uri` (RFC 9126): only a `urn:ietf:params:oauth:request_uri:` this server issued from its PAR endpoint
 *   is accepted (no other URL is ever fetched); it is consumed at once and the pushed parameters are the request,
 *   nothing else of the query counts. Unknown, expired, reused, or pushed by another client → error page
 *   `invalid_request_uri` (the redirect URI cannot be trusted before the pushed parameters are known);
 * - a client with `requirePushedAuthorizationRequests`, or any client when REQUIRE_PUSHED_AUTHORIZATION_REQUESTS is
 *   set, is refused without one (error page);
 * - `request` (RFC 9101): a signed request object whose claims are the request (request-object.ts); a bad one is an
 *   error page `invalid_request_object`.
 * The result then goes through the usual validation (client, redirect URI, PKCE, scopes...).
 */
import type { ClientApplication } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import { OAuthError } from '../errors';
import { untrustedRequest } from '../interaction/errors';
import type { OAuthParams } from '../interaction/params';
import { takePushedRequest } from './pushed-requests';
import { type RequestProject, requestObjectParams } from './request-object';

/**
 * Whether a client must push its authorization requests.
 * @param deps - OAuth dependencies (the server-wide setting)
 * @param client - the client
 * @returns true when plain requests are refused
 */
export function requiresPushedRequests(deps: OAuthDeps, client: ClientApplication): boolean {
  return deps.config.requirePushedAuthorizationRequests || client.requirePushedAuthorizationRequests === true;
}

function fromRecord(values: Record<string, string>): OAuthParams {
  return { values: new Map(Object.entries(values)), duplicates: new Set(), oversized: new Set() };
}

/**
 * Resolves `request_uri` and `request`.
 * @param deps - OAuth dependencies
 * @param project - the project
 * @param client - the (active) client named by `client_id`
 * @param params - the parameters of the query or form
 * @returns the parameters of the request
 * @throws InteractionPageError for a bad request_uri or request object, or a plain request where PAR is required
 */
export async function authorizationParams(deps: OAuthDeps, project: RequestProject, client: ClientApplication, params: OAuthParams): Promise<OAuthParams> {
  const hasRequestUri = params.values.has('request_uri') || params.duplicates.has('request_uri') || params.oversized.has('request_uri');
  const hasRequest = params.values.has('request') || params.duplicates.has('request') || params.oversized.has('request');
  if (hasRequestUri) {
    if (hasRequest) throw untrustedRequest('request and request_uri cannot be used together.');
    const requestUri = params.duplicates.has('request_uri') ? undefined : params.values.get('request_uri');
    const pushed = requestUri === undefined ? undefined : await takePushedRequest(deps.storage.records, project.key, client.id, requestUri);
    if (!pushed) throw untrustedRequest('The request_uri is unknown, expired, already used, or was not pushed by this application.', 'invalid_request_uri');
    return fromRecord(pushed);
  }
  if (requiresPushedRequests(deps, client)) {
    throw untrustedRequest('This application must push its authorization requests to the pushed authorization request endpoint (PAR) and send only client_id and request_uri.');
  }
  if (!hasRequest) return params;
  const jwt = params.duplicates.has('request') ? undefined : params.values.get('request');
  if (jwt === undefined) throw untrustedRequest('The request parameter was given more than once or is too long.', 'invalid_request_object');
  try {
    return await requestObjectParams(deps, project, client, jwt);
  } catch (err) {
    if (err instanceof OAuthError) throw untrustedRequest(err.description, err.code);
    throw err;
  }
}
