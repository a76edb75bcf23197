/** JSON responses of the OAuth endpoints: never cached; errors as `{ error, error_description }`. */
import type { NextFunction, Request, Response } from 'express';
import { renderOAuthError } from '../../http/error-handler';
import { OAuthError } from '../errors';
import { auditDetail } from './audit';

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
  return function oauthJsonError(err: unknown, req: Request, res: Response, _next: NextFunction): void {
    if (err instanceof OAuthError) auditDetail(res).error = { code: err.code, description: err.description };
    renderOAuthError(err, req, res);
  };
}
