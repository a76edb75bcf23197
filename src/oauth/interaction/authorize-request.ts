/**
 * Validation of an authorization request, in the order that decides how errors are reported:
 * 1. `client_id` and `redirect_uri` (RFC 6749 §3.1.2, §4.1.2.1): an unknown or inactive client, or a
 *    redirect URI that is not registered exactly (it may be omitted when exactly one is registered), is an
 *    error page — redirecting would send the browser somewhere untrusted. The one exception is RFC 8252 §7.3:
 *    a loopback URI registered without a port (`http://127.0.0.1/cb`, `http://[::1]/cb`) matches the same URI
 *    with any port, since a native app listens on an ephemeral one ({@link matchesRegisteredRedirectUri});
 * 2. everything else is an {@link AuthorizeRedirectError}: repeated parameters, a leftover `request`/`request_uri`
 *    (resolved before this step: requests/authorization-params.ts), `response_type` (only `code`), `response_mode` (only `query`), the client's grant types,
 *    PKCE (RFC 7636: `code_challenge` with `code_challenge_method=S256` is required of every client — `plain`
 *    or a missing method is refused), `scope` (granted = requested ∩ the client's scopes; nothing grantable →
 *    `invalid_scope`), `prompt` (none | login | consent; `none` alone), `max_age`.
 * `state` is kept exactly as received; `nonce` and `login_hint` are passed through. `launch` (SMART EHR launch)
 * is not resolved yet: the request record has a `launch` slot that SMART fills.
 */
import { parseScope } from '../scopes';
import { AuthorizeRedirectError, untrustedRequest } from './errors';
import type { AuthorizationRequest } from './interaction-store';
import { MAX_PARAMETER_LENGTH, type OAuthParams, singleParam } from './params';

/** The ClientApplication fields the authorization endpoint reads. */
export interface AuthorizeClient {
  id: string;
  name?: string;
  status?: string;
  grantType?: string[];
  redirectUri?: string[];
  scope?: string;
  consentRequired?: boolean;
}

/** Where errors about a request go once its redirect URI is trusted. */
export interface RedirectTarget {
  redirectUri: string;
  /** Exactly as received (absent when missing or repeated). */
  state?: string;
}

/** Schemes a browser must never be sent to with a code (they would run or embed the response). */
const UNSAFE_SCHEMES = /^(javascript|data|vbscript|file|blob):/i;

/**
 * Whether a registered redirect URI can be used: absolute, no fragment (RFC 6749 §3.1.2), no scheme that would
 * execute or embed content.
 * @param uri - a registered redirect URI
 * @returns true when it may be redirected to
 */
export function isUsableRedirectUri(uri: string): boolean {
  if (uri.includes('#') || UNSAFE_SCHEMES.test(uri.trim())) return false;
  try {
    new URL(uri);
    return true;
  } catch {
    return false;
  }
}

/** `http://127.0.0.1` or `http://[::1]` followed by a path, query or nothing — no port, no user info. */
const LOOPBACK_WITHOUT_PORT = /^http:\/\/(127\.0\.0\.1|\[::1\])([/?].*)?$/;

/**
 * Whether a redirect URI of a request matches a registered one: the same string, or (RFC 8252 §7.3) a loopback
 * IP literal URI registered without a port, given with a port and otherwise character for character the same.
 * `localhost` gets no variance (RFC 8252 §8.3: it may resolve elsewhere), and neither does https.
 * @param registered - a registered redirect URI
 * @param given - the request's `redirect_uri`
 * @returns true when the request may use it
 */
export function matchesRegisteredRedirectUri(registered: string, given: string): boolean {
  if (registered === given) return true;
  const loopback = LOOPBACK_WITHOUT_PORT.exec(registered);
  if (!loopback) return false;
  const host = `http://${loopback[1] as string}:`;
  if (!given.startsWith(host)) return false;
  const rest = given.slice(host.length);
  const port = /^\d{1,5}/.exec(rest)?.[0];
  if (port === undefined || port.startsWith('0') || Number(port) > 65535) return false;
  return rest.slice(port.length) === (loopback[2] ?? '');
}

const PROMPTS = new Set(['none', 'login', 'consent']);
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Step 1: the client must be active and the redirect URI registered (exact string match, loopback port variance).
 * @param client - the client from `loadClient`, or undefined when unknown
 * @param params - the request parameters
 * @returns where errors may be redirected from now on
 * @throws InteractionPageError when the request cannot be redirected
 */
export function checkClientAndRedirect(client: AuthorizeClient | undefined, params: OAuthParams): RedirectTarget {
  if (params.duplicates.has('client_id')) throw untrustedRequest('The client_id parameter was given more than once.');
  if (!client) throw untrustedRequest('The application is not registered with this server (unknown client_id).', 'invalid_client');
  if (client.status !== 'active') throw untrustedRequest('The application is not active.', 'invalid_client');
  if (params.duplicates.has('redirect_uri') || params.oversized.has('redirect_uri')) {
    throw untrustedRequest('The redirect_uri parameter was given more than once or is too long.');
  }
  const registered = (client.redirectUri ?? []).filter(isUsableRedirectUri);
  const given = params.values.get('redirect_uri');
  let redirectUri: string | undefined;
  if (given !== undefined) {
    // The URI the request named (with its port, for a loopback URI): the token request must repeat it exactly.
    redirectUri = registered.some((uri) => matchesRegisteredRedirectUri(uri, given)) ? given : undefined;
    if (!redirectUri) throw untrustedRequest('The redirect_uri is not registered for this application.');
  } else {
    if (registered.length !== 1) throw untrustedRequest('The redirect_uri parameter is required for this application.');
    redirectUri = registered[0] as string;
  }
  const state = singleParam(params, 'state');
  return state === undefined ? { redirectUri } : { redirectUri, state };
}

function parsePrompt(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const values = [...new Set(raw.split(' ').filter(Boolean))];
  const unknown = values.find((v) => !PROMPTS.has(v));
  if (unknown !== undefined) throw new AuthorizeRedirectError('invalid_request', `Unsupported prompt value '${unknown}'`);
  if (values.includes('none') && values.length > 1) {
    throw new AuthorizeRedirectError('invalid_request', 'prompt=none cannot be combined with other prompt values');
  }
  return values;
}

function parseMaxAge(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw new AuthorizeRedirectError('invalid_request', 'max_age must be a non-negative integer');
  return Number(raw);
}

function checkParameterShape(params: OAuthParams): void {
  const [duplicate] = params.duplicates;
  if (duplicate !== undefined) throw new AuthorizeRedirectError('invalid_request', `The ${duplicate} parameter was given more than once`);
  const [oversized] = params.oversized;
  if (oversized !== undefined) {
    throw new AuthorizeRedirectError('invalid_request', `The ${oversized} parameter is longer than ${MAX_PARAMETER_LENGTH} characters`);
  }
  if (params.values.has('request')) throw new AuthorizeRedirectError('request_not_supported', 'Request objects are not supported');
  if (params.values.has('request_uri')) throw new AuthorizeRedirectError('request_uri_not_supported', 'request_uri is not supported');
}

function checkResponseType(params: OAuthParams, client: AuthorizeClient): void {
  const responseType = params.values.get('response_type');
  if (responseType === undefined) throw new AuthorizeRedirectError('invalid_request', 'response_type is required');
  if (responseType !== 'code') {
    throw new AuthorizeRedirectError('unsupported_response_type', 'Only response_type=code is supported');
  }
  const responseMode = params.values.get('response_mode');
  if (responseMode !== undefined && responseMode !== 'query') {
    throw new AuthorizeRedirectError('invalid_request', 'Only response_mode=query is supported');
  }
  if (!(client.grantType ?? []).includes('authorization_code')) {
    throw new AuthorizeRedirectError('unauthorized_client', 'The client may not use the authorization_code grant');
  }
}

function checkPkce(params: OAuthParams): string {
  const challenge = params.values.get('code_challenge');
  const method = params.values.get('code_challenge_method');
  if (challenge === undefined) throw new AuthorizeRedirectError('invalid_request', 'code_challenge is required (PKCE with S256)');
  if (method !== 'S256') {
    throw new AuthorizeRedirectError('invalid_request', 'code_challenge_method must be S256 (plain is not supported)');
  }
  if (!S256_CHALLENGE.test(challenge)) {
    throw new AuthorizeRedirectError('invalid_request', 'code_challenge must be 43 base64url characters (S256)');
  }
  return challenge;
}

/**
 * Step 2: the rest of the request.
 * @param params - the request parameters
 * @param client - the (active) client
 * @param target - the trusted redirect URI and state from step 1
 * @param grantScopes - requested scopes → the ones the client may have (CORE's `grantScopes`)
 * @returns the validated request
 * @throws AuthorizeRedirectError for anything the client should be told
 */
export function validateAuthorizationRequest(
  params: OAuthParams,
  client: AuthorizeClient,
  target: RedirectTarget,
  grantScopes: (requested: string[]) => string[],
): AuthorizationRequest {
  checkParameterShape(params);
  checkResponseType(params, client);
  const codeChallenge = checkPkce(params);
  const requested = parseScope(params.values.get('scope'));
  if (requested.length === 0) throw new AuthorizeRedirectError('invalid_scope', 'scope is required');
  const scope = grantScopes(requested);
  if (scope.length === 0) throw new AuthorizeRedirectError('invalid_scope', 'None of the requested scopes may be granted to this client');
  const prompt = parsePrompt(params.values.get('prompt'));
  const maxAge = parseMaxAge(params.values.get('max_age'));
  const request: AuthorizationRequest = {
    clientId: client.id,
    redirectUri: target.redirectUri,
    redirectUriGiven: params.values.has('redirect_uri'),
    scope,
    codeChallenge,
    prompt,
  };
  if (target.state !== undefined) request.state = target.state;
  const nonce = params.values.get('nonce');
  if (nonce !== undefined) request.nonce = nonce;
  const loginHint = params.values.get('login_hint');
  if (loginHint !== undefined) request.loginHint = loginHint;
  if (maxAge !== undefined) request.maxAge = maxAge;
  return request;
}

/**
 * The redirect that carries a result or an error back to the client. Parameters are appended to the
 * registered URI as-is (its own query is kept byte-for-byte).
 * @param redirectUri - the registered redirect URI
 * @param params - response parameters (undefined ones are left out)
 * @returns the URL to redirect to
 */
export function clientRedirectUrl(redirectUri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
  return `${redirectUri}${redirectUri.includes('?') ? '&' : '?'}${query.toString()}`;
}
