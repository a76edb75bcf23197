/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 6750 §3.1). Code throws them; the OAuth router renders them as
 * `{ error, error_description }` with `Cache-Control: no-store`.
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
  constructor(description: string) {
    super('invalid_request', 400, description);
  }
}

/** Client authentication failed (401 with a `WWW-Authenticate` challenge). */
export class InvalidClientError extends OAuthError {
  constructor(description: string) {
    super('invalid_client', 401, description);
    this.headers['WWW-Authenticate'] = 'Basic realm="token", charset="UTF-8"';
  }
}

/** The grant (code, refresh token) is invalid, expired, revoked, or issued to another client. */
export class InvalidGrantError extends OAuthError {
  constructor(description: string) {
    super('invalid_grant', 400, description);
  }
}

/** The client may not use this grant type. */
export class UnauthorizedClientError extends OAuthError {
  constructor(description: string) {
    super('unauthorized_client', 400, description);
  }
}

/** The grant type is not supported by this server. */
export class UnsupportedGrantTypeError extends OAuthError {
  constructor(description: string) {
    super('unsupported_grant_type', 400, description);
  }
}

/** The requested scope is invalid, unknown, or exceeds what was granted. */
export class InvalidScopeError extends OAuthError {
  constructor(description: string) {
    super('invalid_scope', 400, description);
  }
}

/** The resource owner or server denied the request. */
export class AccessDeniedError extends OAuthError {
  constructor(description: string) {
    super('access_denied', 403, description);
  }
}

/** The response type is not supported. */
export class UnsupportedResponseTypeError extends OAuthError {
  constructor(description: string) {
    super('unsupported_response_type', 400, description);
  }
}

/** `prompt=none` without a session. */
export class LoginRequiredError extends OAuthError {
  constructor(description: string) {
    super('login_required', 400, description);
  }
}

/** `prompt=none` when consent is needed. */
export class ConsentRequiredError extends OAuthError {
  constructor(description: string) {
    super('consent_required', 400, description);
  }
}

/** The bearer token is missing, malformed, expired, revoked or for another audience (RFC 6750 §3.1). */
export class InvalidTokenError extends OAuthError {
  constructor(description: string) {
    super('invalid_token', 401, description);
    this.headers['WWW-Authenticate'] = `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`;
  }
}
