/**
 * Renders every error in one place. FhirError → OperationOutcome (`application/fhir+json`) with its status;
 * OAuthError → `{ error, error_description }` (RFC 6749 §5.2; `{ error_description }` alone for a missing bearer
 * token, RFC 6750 §3.1) with `Cache-Control: no-store`; errors from the
 * body parser are mapped to 400/413/415; a write the store refused (disk full, I/O error: StorageUnavailableError)
 * is logged and answered 503 (`transient` / `temporarily_unavailable`, with `Retry-After`); anything else is
 * logged with the request id and answered with a generic 500 that reveals nothing about internals.
 */

const STORAGE_UNAVAILABLE = 'The server cannot store changes right now; nothing was changed. Try again later.';

/**
 * A write the store refused, as the 503 the client gets.
 * @param err - the storage error
 * @returns the FhirError to render
 */
export function storageUnavailable(err: StorageUnavailableError): FhirError {
  return new FhirServiceUnavailableError(STORAGE_UNAVAILABLE, { cause: err });
}
import type { NextFunction, Request, Response } from 'express';
import {
  BadRequestError,
  FhirError,
  PayloadTooLargeError,
  ResourceNotFoundError,
  STORAGE_RETRY_AFTER_SECONDS,
  ServiceUnavailableError as FhirServiceUnavailableError,
  UnsupportedMediaTypeError,
} from '../fhir/errors';
import { operationOutcome } from '../fhir/outcomes';
import { MissingTokenError, OAuthError, ServerError, ServiceUnavailableError } from '../oauth/errors';
import { StorageUnavailableError } from '../storage/ports';
import { FHIR_JSON } from './content-negotiation';

/** Errors raised by Express's body parser carry a `type`. */
interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

function fromBodyParser(err: BodyParserError): FhirError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new BadRequestError(`The request body is not valid JSON: ${err.message}`, undefined, 'structure');
    case 'entity.too.large':
      return new PayloadTooLargeError(`The request body exceeds the limit of ${err.limit ?? '?'} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(err.message);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new BadRequestError(err.message);
    default:
      return undefined;
  }
}

/**
 * Converts an error into a FhirError (500 for anything unexpected).
 * @param err - what was thrown
 * @returns the FhirError to render, and whether it was unexpected
 */
export function toFhirError(err: unknown): { error: FhirError; unexpected: boolean } {
  if (err instanceof FhirError) return { error: err, unexpected: false };
  if (err instanceof StorageUnavailableError) return { error: storageUnavailable(err), unexpected: false };
  const mapped = err instanceof Error ? fromBodyParser(err as BodyParserError) : undefined;
  if (mapped) return { error: mapped, unexpected: false };
  if (isUndecodablePath(err)) return { error: new BadRequestError('The request path is not valid percent-encoding'), unexpected: false };
  return {
    error: new FhirError(500, { code: 'exception', diagnostics: 'Internal server error' }),
    unexpected: true,
  };
}

/** The router could not percent-decode a path parameter (`/w/%ff/...`): the client's fault, not ours. */
function isUndecodablePath(err: unknown): boolean {
  return err instanceof URIError && (err as URIError & { status?: number }).status === 400;
}

/** Paths whose errors are rendered as OAuth JSON: the OAuth endpoints and the discovery documents. */
const OAUTH_PATH = /^\/(?:w\/[^/]*\/[^/]*\/(?:api\/v1\/oauth(?:\/|$)|\.well-known\/)|\.well-known\/)/;

/**
 * Converts an error raised by an OAuth endpoint into an OAuthError (`server_error` for anything unexpected).
 * @param err - what was thrown
 * @returns the OAuthError to render, and whether it was unexpected
 */
export function toOAuthError(err: unknown): { error: OAuthError; unexpected: boolean } {
  if (err instanceof OAuthError) return { error: err, unexpected: false };
  if (err instanceof StorageUnavailableError || (err instanceof FhirError && err.status === 503)) {
    return { error: new ServiceUnavailableError(STORAGE_UNAVAILABLE, STORAGE_RETRY_AFTER_SECONDS), unexpected: false };
  }
  if (err instanceof FhirError && err.status < 500) {
    const description = err.status === 404 ? 'Not found' : 'The request is not valid';
    return { error: new OAuthError(err.status === 404 ? 'not_found' : 'invalid_request', err.status, description), unexpected: false };
  }
  const parser = err instanceof Error ? (err as BodyParserError) : undefined;
  if (parser?.type !== undefined && typeof parser.status === 'number' && parser.status < 500) {
    const status = parser.status === 413 || parser.status === 415 ? parser.status : 400;
    return { error: new OAuthError('invalid_request', status, 'The request body could not be read'), unexpected: false };
  }
  if (isUndecodablePath(err)) return { error: new OAuthError('invalid_request', 400, 'The request path is not valid percent-encoding'), unexpected: false };
  return { error: new ServerError(), unexpected: true };
}

/**
 * Writes an OAuth error response: `{ error, error_description }`, never cached, with its `WWW-Authenticate`.
 * A request without a bearer token gets `{ error_description }` alone: RFC 6750 §3.1 gives it no error code.
 * @param err - what was thrown
 * @param req - the request (for logging unexpected errors)
 * @param res - the response
 */
export function renderOAuthError(err: unknown, req: Request, res: Response): void {
  const { error, unexpected } = toOAuthError(err);
  if (unexpected) req.ctx?.logger.error({ err }, 'unhandled error in OAuth endpoint');
  else logStorageRefusal(err, req);
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res
    .status(error.status)
    .setHeader('Cache-Control', 'no-store')
    .setHeader('Pragma', 'no-cache')
    // RFC 6750 §3.1: a request without a bearer token gets no error code, in the challenge or the body.
    .json(error instanceof MissingTokenError ? { error_description: error.description } : { error: error.code, error_description: error.description });
}

/** The store refused a write: the journal already logged why; this names the request it cost. */
function logStorageRefusal(err: unknown, req: Request): void {
  const storage = err instanceof StorageUnavailableError ? err : err instanceof FhirError && err.cause instanceof StorageUnavailableError ? err.cause : undefined;
  if (storage) req.ctx?.logger.warn({ err: storage.message }, 'request refused: the store cannot take writes');
}

/**
 * Express error middleware.
 * @returns the middleware
 */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof OAuthError || OAUTH_PATH.test(req.path)) {
      renderOAuthError(err, req, res);
      return;
    }
    const { error, unexpected } = toFhirError(err);
    if (unexpected) req.ctx?.logger.error({ err }, 'unhandled error');
    else logStorageRefusal(err, req);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(error.status);
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    res.setHeader('Content-Type', FHIR_JSON);
    res.send(JSON.stringify(operationOutcome(error.issues)));
  };
}

/**
 * The last route: nothing matched.
 * @returns the middleware
 */
export function notFoundHandler() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(new ResourceNotFoundError(`No route for ${req.method} ${req.path}`));
  };
}
