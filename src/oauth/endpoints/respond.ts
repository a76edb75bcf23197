/** JSON responses of the OAuth endpoints: never cached; errors as `{ error, error_description }`. */
import type { NextFunction, Request, Response } from 'express';
import { OAuthError } from '../errors';

/**
 * Sends JSON with `Cache-Control: no-store` and `Pragma: no-cache`.
 * @param res - the response
 * @param status - HTTP status
 * @param body - the JSON body
 */
export function sendNoStore(res: Response, status: number, body: unknown): void {
  res.status(status).setHeader('Cache-Control', 'no-store').setHeader('Pragma', 'no-cache').json(body);
}

/**
 * Error middleware of the JSON endpoints: OAuthError → its status and body; body-parser errors → invalid_request;
 * anything else → a logged `server_error` that reveals nothing.
 * @returns the middleware
 */
export function oauthJsonErrors() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let error: OAuthError;
    if (err instanceof OAuthError) error = err;
    else if (typeof (err as { type?: unknown } | null)?.type === 'string' && typeof (err as { status?: unknown }).status === 'number') {
      const status = (err as { status: number }).status;
      error = new OAuthError('invalid_request', status === 413 ? 413 : status === 415 ? 415 : 400, 'The request body could not be read');
    } else {
      req.ctx?.logger.error({ err }, 'unhandled error in OAuth endpoint');
      error = new OAuthError('server_error', 500, 'Internal server error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    sendNoStore(res, error.status, { error: error.code, error_description: error.description });
  };
}
