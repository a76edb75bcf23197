/**
 * Error rendering for the browser-facing OAuth endpoints: everything becomes an HTML page, never JSON and
 * never a stack trace. Page errors keep their status and message; client-side failures (unknown project, bad
 * form encoding, oversized form) get a generic page with their status; anything else is logged with the
 * request id and answered with a generic 500 page.
 */
import type { NextFunction, Request, Response } from 'express';
import { InteractionPageError } from './errors';
import { errorPage } from './views/pages';
import { sendPage } from './views/respond';

function clientStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Route-level error middleware for the interaction endpoints.
 * @returns the middleware
 */
export function pageErrorHandler() {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    if (err instanceof InteractionPageError) {
      return sendPage(res, { status: err.status, headers: err.headers, ...errorPage(err.title, err.message, err.code) });
    }
    const status = clientStatus(err);
    if (status === 404) return sendPage(res, { status, ...errorPage('Not found', 'There is no such project on this server.') });
    if (status !== undefined) return sendPage(res, { status, ...errorPage('Bad request', 'The request could not be processed.') });
    req.ctx?.logger.error({ err }, 'unhandled error on an interaction page');
    sendPage(res, { status: 500, ...errorPage('Something went wrong', 'The server could not complete the request. Try again later.') });
  };
}
