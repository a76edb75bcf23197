/**
 * The two ways an authorization request fails (RFC 6749 §4.1.2.1):
 * - {@link AuthorizeRedirectError}: the client and redirect URI are known good, so the error goes back to the
 *   client as a redirect with `error`, `error_description`, `state` and `iss` (RFC 9207);
 * - {@link InteractionPageError}: the client or redirect URI cannot be trusted (or a page's own check failed:
 *   expired interaction, CSRF), so the browser gets an HTML page and is never redirected.
 */

/** An error returned to the client by redirect. */
export class AuthorizeRedirectError extends Error {
  /**
   * @param code - the RFC 6749 / OIDC error code (`invalid_request`, `login_required`...)
   * @param description - `error_description` (ASCII, no secrets)
   */
  constructor(
    readonly code: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'AuthorizeRedirectError';
  }
}

/** An error shown as an HTML page. */
export class InteractionPageError extends Error {
  /**
   * @param status - the HTTP status
   * @param title - the page heading
   * @param message - what went wrong, in plain language (shown escaped)
   * @param code - the OAuth error code, when there is one
   * @param headers - extra headers (e.g. `Retry-After`)
   */
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    readonly code?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'InteractionPageError';
  }
}

/**
 * The error page for a request whose client or redirect URI cannot be trusted.
 * @param message - what was wrong
 * @param code - the OAuth error code
 * @returns the error
 */
export function untrustedRequest(message: string, code = 'invalid_request'): InteractionPageError {
  return new InteractionPageError(400, 'This application sent an invalid request', message, code);
}

/**
 * The error page for a form or page that does not belong to a live interaction of this browser.
 * @returns the error
 */
export function interactionExpired(): InteractionPageError {
  return new InteractionPageError(
    400,
    'This sign-in request has expired',
    'The sign-in request expired or was started in another browser. Go back to the application and start again.',
  );
}

/**
 * The error page for a form post whose CSRF token is missing or wrong.
 * @returns the error
 */
export function csrfRejected(): InteractionPageError {
  return new InteractionPageError(
    403,
    'This form could not be verified',
    'The form was not submitted from this sign-in page. Go back to the application and start again.',
  );
}
