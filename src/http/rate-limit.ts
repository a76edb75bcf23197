/**
 * Per-client-IP request limits of the OAuth JSON endpoints (token, introspection, revocation), built on
 * express-rate-limit with its in-memory store:
 * - each endpoint counts `OAUTH_RATE_LIMIT` requests per client IP (IPv6 grouped by /56) per
 *   `OAUTH_RATE_LIMIT_WINDOW_SECONDS` (fixed window); `OAUTH_RATE_LIMIT=0`, the default, turns the limit off;
 * - over the limit → 429 `{ error: "temporarily_unavailable", error_description }` with `Retry-After` and the
 *   IETF `RateLimit`/`RateLimit-Policy` headers, rendered by the OAuth error renderer like every other error;
 * - the client IP is `req.ip`, so behind a reverse proxy `TRUST_PROXY` must name it (see docs/oauth.md).
 * Counters are per instance: N instances behind a load balancer allow up to N × the limit.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Config } from '../config/schema';
import { TemporarilyUnavailableError } from '../oauth/errors';

/**
 * The limiter of one endpoint (a pass-through when the limit is off).
 * @param config - `oauthRateLimit` and `oauthRateLimitWindowSeconds`
 * @param endpoint - the endpoint's name, used in the description and the `RateLimit` header
 * @returns the middleware
 */
export function oauthRateLimit(config: Pick<Config, 'oauthRateLimit' | 'oauthRateLimitWindowSeconds'>, endpoint: string): RequestHandler {
  if (config.oauthRateLimit === 0) return (_req: Request, _res: Response, next: NextFunction) => next();
  const windowSeconds = config.oauthRateLimitWindowSeconds;
  return rateLimit({
    windowMs: windowSeconds * 1000,
    limit: config.oauthRateLimit,
    identifier: endpoint,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Which proxies are trusted is the operator's decision (TRUST_PROXY, validated at start-up); the library's
    // warnings about X-Forwarded-For and `trust proxy: true` would only repeat it on stderr.
    validate: { xForwardedForHeader: false, trustProxy: false },
    handler: (_req: Request, res: Response, next: NextFunction) => {
      // express-rate-limit has set `Retry-After` (seconds to the end of the window) before calling this.
      const retryAfter = Number(res.getHeader('Retry-After')) || windowSeconds;
      next(new TemporarilyUnavailableError(`Too many ${endpoint} requests from this address; retry later`, retryAfter));
    },
  });
}
