/**
 * Per-request context: a request id (from a sane incoming `X-Request-Id` or generated), echoed in the
 * `X-Request-Id` response header, and a child logger that stamps it on every line. One access-log line is
 * written when the response is done, when the log level lets `info` lines through: method, the full path with
 * credential-bearing query values redacted, tenant, project, the authenticated client and user, client IP
 * (under TRUST_PROXY), status, duration and request id (fields: access-log.ts; never bodies or credentials).
 * A request the client abandoned before the response was complete is logged with `aborted: true`.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';
import { loggedPath, projectOfPath, requestTarget } from './access-log';

const INCOMING_ID = /^[A-Za-z0-9\-_.:]{8,128}$/;

/** What every request carries. */
export interface RequestContext {
  requestId: string;
  logger: Logger;
  /** The authenticated client (bearer token or client authentication), for the access log. */
  clientId?: string;
  /** The authenticated user (bearer token or sign-in), for the access log. */
  userId?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      ctx: RequestContext;
    }
  }
}

/** A request's context; its child logger is made on first use: most requests log nothing but the access line. */
class Context implements RequestContext {
  private child: Logger | undefined;
  clientId?: string;
  userId?: string;

  constructor(
    readonly requestId: string,
    private readonly parent: Logger,
  ) {}

  get logger(): Logger {
    this.child ??= this.parent.child({ requestId: this.requestId });
    return this.child;
  }
}

/**
 * Middleware creating `req.ctx`.
 * @param logger - the process logger
 * @returns the middleware
 */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    req.ctx = new Context(requestId, logger);
    res.setHeader('X-Request-Id', requestId);
    if (!logger.isLevelEnabled('info')) return next();
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = loggedPath(requestTarget(req));
      const { clientId, userId } = req.ctx;
      req.ctx.logger.info(
        {
          method: req.method,
          path,
          ...projectOfPath(path),
          clientId,
          userId,
          ip: req.ip,
          status: res.statusCode,
          durationMs: Math.round(ms * 100) / 100,
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request completed',
      );
    });
    next();
  };
}
