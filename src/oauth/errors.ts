/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6). Code throws them; one place renders them
 * (`renderOAuthError` in src/http/error-handler.ts) as `{ error, error_description }` with `Cache-Control:
 * no-store` and `Pragma: no-cache`. Each subclass carries its RFC code as `static readonly code`.
 */

/** Base class: an error code, an HTTP status and a description safe to show to the client. */
export class OAuthError extends Error {
  /** Extra response headers (`WWW-Authenticate`). */
  headers: Record<string, string> = {};

  constructor(
    readonly code: string,
    readonly status: number,
    readonly description: string,
  ) {
    super(description);
    this.name = new.target.name;
  }
}

/** The request is missing a parameter, repeats one, or is otherwise malformed. */
export class InvalidRequestError extends OAuthError {
  static readonly code = 'invalid_request';
  constructor(description: string) {
    super(InvalidRequestError.code, 400, description);
  }
}

/** Client authentication failed (401 with a `WWW-Authenticate` challenge, RFC 6749 §5.2). */
export class InvalidClientError extends OAuthError {
  static readonly code = 'invalid_client';
  constructor(description: string) {
    super(InvalidClientError.code, 401, description);
    this.headers['WWW-Authenticate'] = 'Basic realm="oauth", charset="UTF-8"';
  }
}

/** The grant (code, refresh token) is invalid, expired, revoked, or issued to another client. */
export class InvalidGrantError extends OAuthError {
  static readonly code = 'invalid_grant';
  constructor(description: string) {
    super(InvalidGrantError.code, 400, description);
  }
}

/** The client may not use this grant type. */
export class UnauthorizedClientError extends OAuthError {
  static readonly code = 'unauthorized_client';
  constructor(description: string) {
    super(UnauthorizedClientError.code, 400, description);
  }
}

/** The grant type is not supported by this server. */
export class UnsupportedGrantTypeError extends OAuthError {
  static readonly code = 'unsupported_grant_type';
  constructor(description: string) {
    super(UnsupportedGrantTypeError.code, 400, description);
  }
}

/** The requested scope is invalid, unknown, or exceeds what was granted. */
export class InvalidScopeError extends OAuthError {
  static readonly code = 'invalid_scope';
  constructor(description: string) {
    super(InvalidScopeError.code, 400, description);
  }
}

/** The resource owner or server denied the request. */
export class AccessDeniedError extends OAuthError {
  static readonly code = 'access_denied';
  constructor(description: string) {
    super(AccessDeniedError.code, 403, description);
  }
}

/** A request object (RFC 9101 §6.3, OIDC Core §3.1.2.6) is invalid: signature, algorithm, issuer, audience, lifetime. */
export class InvalidRequestObjectError extends OAuthError {
  static readonly code = 'invalid_request_object';
  constructor(description: string) {
    super(InvalidRequestObjectError.code, 400, description);
  }
}

/** A `request_uri` (RFC 9126 §4) is unknown, expired, already used, or was pushed by another client. */
export class InvalidRequestUriError extends OAuthError {
  static readonly code = 'invalid_request_uri';
  constructor(description: string) {
    super(InvalidRequestUriError.code, 400, description);
  }
}

/** Registration metadata is invalid (RFC 7591 §3.2.2): `invalid_client_metadata`, `invalid_redirect_uri`, ... */
export class RegistrationError extends OAuthError {
  constructor(code: 'invalid_client_metadata' | 'invalid_redirect_uri' | 'invalid_software_statement' | 'unapproved_software_statement', description: string) {
    super(code, 400, description);
  }
}

/** The response type is not supported. */
export class UnsupportedResponseTypeError extends OAuthError {
  static readonly code = 'unsupported_response_type';
  constructor(description: string) {
    super(UnsupportedResponseTypeError.code, 400, description);
  }
}

/** `prompt=none` without a session. */
export class LoginRequiredError extends OAuthError {
  static readonly code = 'login_required';
  constructor(description: string) {
    super(LoginRequiredError.code, 400, description);
  }
}

/** `prompt=none` when consent is needed. */
export class ConsentRequiredError extends OAuthError {
  static readonly code = 'consent_required';
  constructor(description: string) {
    super(ConsentRequiredError.code, 400, description);
  }
}

/**
 * A `Bearer` challenge (RFC 6750 §3): `Bearer realm="…", error="…", …`, the realm first; quotes and backslashes
 * are removed from the values (they are ours, never the client's, but a description must not break the header).
 * @param attributes - the auth-params in order (undefined values are left out)
 * @returns the `WWW-Authenticate` value
 */
export function bearerChallenge(attributes: Record<string, string | undefined>): string {
  return challenge('Bearer', attributes);
}

function challenge(scheme: string, attributes: Record<string, string | undefined>): string {
  const params = Object.entries(attributes)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}="${value.replace(/["\\]/g, '')}"`);
  return params.length > 0 ? `${scheme} ${params.join(', ')}` : scheme;
}

/**
 * The request carries no bearer token: no `Authorization` header, or one of another scheme (RFC 6750 §3.1: a
 * request that "lacks any authentication information (e.g., the client was unaware that authentication is
 * necessary or attempted using an unsupported authentication method)" gets a challenge without an error code).
 * 401 with `WWW-Authenticate: Bearer realm="<issuer>"`; OAuth endpoints answer `{ error_description }` only.
 */
export class MissingTokenError extends OAuthError {
  constructor(realm: string) {
    super('', 401, 'A bearer token is required');
    this.headers['WWW-Authenticate'] = bearerChallenge({ realm });
  }
}

/**
 * The proof signing algorithms accepted in DPoP proofs (RFC 9449 §5.1 `dpop_signing_alg_values_supported`):
 * `Ed25519` is EdDSA over Ed25519 under its RFC 9864 name, which current client libraries (oauth4webapi) use.
 */
export const DPOP_ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] as const;

/**
 * A `DPoP` challenge (RFC 9449 §7.1): `DPoP realm="…", error="…", error_description="…", algs="ES256 …"`.
 * @param attributes - the auth-params in order (undefined values are left out); `algs` is added
 * @returns the `WWW-Authenticate` value
 */
export function dpopChallenge(attributes: Record<string, string | undefined>): string {
  return challenge('DPoP', { ...attributes, algs: DPOP_ALGS.join(' ') });
}

/**
 * A `Bearer` challenge restated for a DPoP-bound token (RFC 9449 §7.1: its challenges use the `DPoP` scheme), e.g.
 * an `insufficient_scope` refusal.
 * @param value - the `WWW-Authenticate` value
 * @returns the same auth-params under `DPoP`, with `algs`; anything else unchanged
 */
export function asDpopChallenge(value: string): string {
  if (!/^Bearer(?:\s|$)/.test(value)) return value;
  const params = value.slice('Bearer'.length).trim();
  return `DPoP ${params ? `${params}, ` : ''}algs="${DPOP_ALGS.join(' ')}"`;
}

/** The bearer token is malformed, expired, revoked or for another audience (RFC 6750 §3.1). */
export class InvalidTokenError extends OAuthError {
  static readonly code = 'invalid_token';
  /** Challenge with the `DPoP` scheme (the token was presented, or must be presented, as a DPoP token). */
  private dpop = false;
  private realm: string | undefined;

  constructor(description: string, realm?: string) {
    super(InvalidTokenError.code, 401, description);
    this.inRealm(realm);
  }

  /**
   * Names the protection space in the challenge.
   * @param realm - the realm (the project's issuer), or undefined for none
   * @returns this error
   */
  inRealm(realm: string | undefined): this {
    this.realm = realm;
    const attributes = { realm, error: this.code, error_description: this.description };
    this.headers['WWW-Authenticate'] = this.dpop ? dpopChallenge(attributes) : bearerChallenge(attributes);
    return this;
  }

  /**
   * Challenges with the `DPoP` scheme (RFC 9449 §7.1) instead of `Bearer`.
   * @returns this error
   */
  asDpop(): this {
    this.dpop = true;
    return this.inRealm(this.realm);
  }
}

/**
 * A DPoP proof is missing where one is required, malformed, badly signed, stale, replayed, or of another key than
 * the token's (RFC 9449 §5, §7.1). At the token endpoint a 400 `{error: "invalid_dpop_proof"}`; at a resource (a
 * realm is given) a 401 with a `DPoP` challenge.
 */
export class InvalidDpopProofError extends OAuthError {
  static readonly code = 'invalid_dpop_proof';
  constructor(description: string, realm?: string) {
    super(InvalidDpopProofError.code, realm === undefined ? 400 : 401, description);
    if (realm !== undefined) this.headers['WWW-Authenticate'] = dpopChallenge({ realm, error: this.code, error_description: description });
  }
}

/**
 * The proof lacks the server's current nonce (RFC 9449 §8, §9): `use_dpop_nonce` with the nonce to use in a
 * `DPoP-Nonce` header; 400 at the token endpoint, 401 with a `DPoP` challenge at a resource.
 */
export class UseDpopNonceError extends OAuthError {
  static readonly code = 'use_dpop_nonce';
  constructor(nonce: string, realm?: string) {
    const description = 'The DPoP proof must carry the nonce this server provides in the DPoP-Nonce header';
    super(UseDpopNonceError.code, realm === undefined ? 400 : 401, description);
    this.headers['DPoP-Nonce'] = nonce;
    if (realm !== undefined) this.headers['WWW-Authenticate'] = dpopChallenge({ realm, error: this.code, error_description: description });
  }
}

/** The token is valid but lacks the scope the request needs (RFC 6750 §3.1). */
export class InsufficientScopeError extends OAuthError {
  static readonly code = 'insufficient_scope';
  constructor(description: string, scope: string, realm?: string) {
    super(InsufficientScopeError.code, 403, description);
    this.headers['WWW-Authenticate'] = bearerChallenge({ realm, error: this.code, scope });
  }

  /**
   * Challenges with the `DPoP` scheme when the token is DPoP-bound (RFC 9449 §7.1).
   * @param bound - whether the token is DPoP-bound (it has a `jkt`)
   * @returns this error
   */
  forDpop(bound: boolean): this {
    if (bound) this.headers['WWW-Authenticate'] = asDpopChallenge(this.headers['WWW-Authenticate'] as string);
    return this;
  }
}

/**
 * Too many requests from this client (429 with `Retry-After`). `temporarily_unavailable` is the RFC 6749 code for
 * a server that is "unable to handle the request due to a temporary overloading" (§4.1.2.1, registered in the
 * OAuth Extensions Error Registry); RFC 6749 has no token-endpoint code for rate limiting.
 */
export class TemporarilyUnavailableError extends OAuthError {
  static readonly code = 'temporarily_unavailable';
  constructor(description: string, retryAfterSeconds: number) {
    super(TemporarilyUnavailableError.code, 429, description);
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

/**
 * The server cannot complete the request now because its store refused a write (disk full, I/O error): 503
 * `temporarily_unavailable` with `Retry-After`. Nothing the request would have issued was stored.
 */
export class ServiceUnavailableError extends OAuthError {
  static readonly code = 'temporarily_unavailable';
  constructor(description: string, retryAfterSeconds: number) {
    super(ServiceUnavailableError.code, 503, description);
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

/** An unexpected failure; the description never reveals internals. */
export class ServerError extends OAuthError {
  static readonly code = 'server_error';
  constructor(description = 'Internal server error') {
    super(ServerError.code, 500, description);
  }
}

/** The tenant or project in the URL does not exist. */
export class UnknownProjectError extends OAuthError {
  static readonly code = 'not_found';
  constructor() {
    super(UnknownProjectError.code, 404, 'Unknown tenant or project');
  }
}
