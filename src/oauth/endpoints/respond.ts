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
  // Written directly, in one piece: nothing of Express's send() (freshness, ETag, content-type lookup) applies.
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
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
