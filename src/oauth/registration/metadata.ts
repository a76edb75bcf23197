/**
 * RFC 7591 client metadata ↔ ClientApplication fields. What a registering app may set, and how it is checked
 * (every failure is `invalid_client_metadata`, or `invalid_redirect_uri` for a redirect URI):
 * - `redirect_uris`: absolute, no fragment, no script-like scheme; `https`, `http` only for loopback hosts (native
 *   apps, RFC 8252 §7.3), or a private-use scheme with a dot (`com.example.app:/cb`, RFC 8252 §7.1); required with
 *   the `authorization_code` grant;
 * - `grant_types` (default `authorization_code`): authorization_code, client_credentials, refresh_token;
 *   `response_types` (default `code` with authorization_code): `code` only, and only with authorization_code;
 * - `token_endpoint_auth_method` (default `client_secret_basic`): client_secret_basic, client_secret_post,
 *   private_key_jwt (which needs `jwks` or `jwks_uri`), none (a public client: no client_credentials);
 * - `jwks` (public keys only) or `jwks_uri` (https; never both);
 * - `scope` (RFC 6749 scope tokens), `client_name`, `logo_uri`, `tos_uri`, `policy_uri` (http(s) URLs),
 *   `require_pushed_authorization_requests`, `software_statement` (verified by the endpoint).
 * Other metadata is ignored (RFC 7591 §2). Administrative fields (status, consentRequired, lifetimes, launchUri,
 * allowedOrigin) are never set by registration.
 */
import type { Config } from '../../config/schema';
import { RegistrationError } from '../errors';
import { isUsableRedirectUri } from '../interaction/authorize-request';

type Json = Record<string, unknown>;

/** The ClientApplication fields registration manages. */
export const REGISTERED_FIELDS = [
  'name',
  'redirectUri',
  'grantType',
  'responseTypes',
  'tokenEndpointAuthMethod',
  'jwks',
  'jwksUri',
  'scope',
  'logoUri',
  'tosUri',
  'policyUri',
  'requirePushedAuthorizationRequests',
  'softwareStatement',
] as const;

const GRANT_TYPES = new Set(['authorization_code', 'client_credentials', 'refresh_token']);
const AUTH_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_URI = 2048;

const bad = (description: string): RegistrationError => new RegistrationError('invalid_client_metadata', description);

function optionalString(metadata: Json, name: string, max: number): string | undefined {
  const value = metadata[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > max) throw bad(`${name} must be a non-empty string of at most ${max} characters`);
  return value;
}

function stringList(metadata: Json, name: string, max: number, error: () => RegistrationError = () => bad(`${name} must be an array of strings`)): string[] | undefined {
  const value = metadata[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > max || !value.every((v) => typeof v === 'string' && v !== '' && v.length <= MAX_URI)) throw error();
  return [...new Set(value as string[])];
}

function webUrl(metadata: Json, name: string): string | undefined {
  const value = optionalString(metadata, name, MAX_URI);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(`${name} must be an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`${name} must be an http(s) URL`);
  return value;
}

function checkRedirectUri(uri: string): void {
  const refuse = (why: string): never => {
    throw new RegistrationError('invalid_redirect_uri', `redirect_uri ${JSON.stringify(uri.slice(0, 200))} ${why}`);
  };
  if (!isUsableRedirectUri(uri)) refuse('must be an absolute URI without a fragment');
  const url = new URL(uri);
  if (url.username || url.password) refuse('must not carry credentials');
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) refuse('must use https (http only for loopback addresses)');
    return;
  }
  if (!/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/i.test(url.protocol)) refuse('must use https, loopback http, or a private-use scheme such as com.example.app:');
}

function publicJwks(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('jwks must be a JWK Set object');
  const keys = (value as Json).keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 20) throw bad('jwks must hold between 1 and 20 keys');
  for (const key of keys as unknown[]) {
    if (typeof key !== 'object' || key === null) throw bad('every jwks key must be a JWK');
    const jwk = key as Json;
    if (typeof jwk.kty !== 'string' || jwk.kty === 'oct') throw bad('jwks keys must be asymmetric public keys');
    if (PRIVATE_KEY_MEMBERS.some((member) => jwk[member] !== undefined)) throw bad('jwks must not contain private key material');
  }
  const text = JSON.stringify({ keys });
  if (text.length > 16 * 1024) throw bad('jwks is larger than 16 KB');
  return text;
}

function jwksUri(metadata: Json, config: Pick<Config, 'allowHttpJwksUri'>): string | undefined {
  const value = webUrl(metadata, 'jwks_uri');
  if (value === undefined) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'https:' && !(config.allowHttpJwksUri === 'loopback' && url.protocol === 'http:')) throw bad('jwks_uri must be an https URL');
  return value;
}

function scope(metadata: Json): string | undefined {
  const value = optionalString(metadata, 'scope', 4096);
  if (value === undefined) return undefined;
  const tokens = value.split(' ').filter((s) => s !== '');
  if (tokens.length === 0 || !tokens.every((s) => SCOPE_TOKEN.test(s))) throw bad('scope must be space-separated scope tokens');
  return [...new Set(tokens)].join(' ');
}

/**
 * Validates RFC 7591 metadata and maps it onto ClientApplication fields.
 * @param metadata - the registration request (software statement claims already merged over it)
 * @param config - the server configuration (ALLOW_HTTP_JWKS_URI)
 * @returns the fields (only those set)
 * @throws RegistrationError (`invalid_client_metadata`, `invalid_redirect_uri`)
 */
export function clientFields(metadata: Json, config: Pick<Config, 'allowHttpJwksUri'>): Json {
  const grantType = stringList(metadata, 'grant_types', 3) ?? ['authorization_code'];
  const unknownGrant = grantType.find((g) => !GRANT_TYPES.has(g));
  if (unknownGrant !== undefined || grantType.length === 0) throw bad(`grant_types may list ${[...GRANT_TYPES].join(', ')}`);
  const usesCode = grantType.includes('authorization_code');
  const responseTypes = stringList(metadata, 'response_types', 5) ?? (usesCode ? ['code'] : []);
  if (responseTypes.some((r) => r !== 'code')) throw bad('response_types may only be code');
  if (responseTypes.includes('code') !== usesCode) throw bad('response_types code goes with the authorization_code grant, and only with it');
  const redirectUri = stringList(metadata, 'redirect_uris', 20, () => new RegistrationError('invalid_redirect_uri', 'redirect_uris must be an array of URIs'));
  for (const uri of redirectUri ?? []) checkRedirectUri(uri);
  if (usesCode && (redirectUri ?? []).length === 0) throw new RegistrationError('invalid_redirect_uri', 'redirect_uris is required with the authorization_code grant');
  const method = optionalString(metadata, 'token_endpoint_auth_method', 64) ?? 'client_secret_basic';
  if (!AUTH_METHODS.has(method)) throw bad(`token_endpoint_auth_method must be one of ${[...AUTH_METHODS].join(', ')}`);
  if (method === 'none' && grantType.includes('client_credentials')) throw bad('A public client (token_endpoint_auth_method none) cannot use client_credentials');
  if (metadata.jwks !== undefined && metadata.jwks !== null && metadata.jwks_uri !== undefined && metadata.jwks_uri !== null) throw bad('jwks and jwks_uri cannot both be given');
  const jwks = metadata.jwks === undefined || metadata.jwks === null ? undefined : publicJwks(metadata.jwks);
  const uri = jwksUri(metadata, config);
  if (method === 'private_key_jwt' && jwks === undefined && uri === undefined) throw bad('private_key_jwt needs jwks or jwks_uri');
  const requirePar = metadata.require_pushed_authorization_requests;
  if (requirePar !== undefined && requirePar !== null && typeof requirePar !== 'boolean') throw bad('require_pushed_authorization_requests must be a boolean');
  const fields: Json = {
    name: optionalString(metadata, 'client_name', 200) ?? 'Registered client',
    grantType,
    tokenEndpointAuthMethod: method,
    ...(responseTypes.length > 0 ? { responseTypes } : {}),
    ...(redirectUri && redirectUri.length > 0 ? { redirectUri } : {}),
    ...(jwks !== undefined ? { jwks } : {}),
    ...(uri !== undefined ? { jwksUri: uri } : {}),
    ...(requirePar === true ? { requirePushedAuthorizationRequests: true } : {}),
  };
  const optional: Array<[string, string | undefined]> = [
    ['scope', scope(metadata)],
    ['logoUri', webUrl(metadata, 'logo_uri')],
    ['tosUri', webUrl(metadata, 'tos_uri')],
    ['policyUri', webUrl(metadata, 'policy_uri')],
  ];
  for (const [name, value] of optional) if (value !== undefined) fields[name] = value;
  return fields;
}

/**
 * The RFC 7591 metadata of a stored client (never a credential).
 * @param client - the ClientApplication (public view)
 * @returns the metadata
 */
export function clientMetadata(client: Json): Json {
  const metadata: Json = {
    client_id: client.id,
    client_name: client.name,
    grant_types: client.grantType,
    response_types: client.responseTypes,
    redirect_uris: client.redirectUri,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? 'client_secret_basic',
    jwks_uri: client.jwksUri,
    scope: client.scope,
    logo_uri: client.logoUri,
    tos_uri: client.tosUri,
    policy_uri: client.policyUri,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests === true,
    software_statement: client.softwareStatement,
  };
  if (typeof client.jwks === 'string') {
    try {
      metadata.jwks = JSON.parse(client.jwks) as unknown;
    } catch {
      // A jwks an administrator stored as invalid text is left out.
    }
  }
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined));
}
