/**
 * Per-client-IP request limits of the OAuth JSON endpoints (token, introspection, revocation), built on
 * express-rate-limit with its in-memory store:
 * - each endpoint counts `OAUTH_RATE_LIMIT` requests per client IP (IPv6 grouped by /56) per
 *   `OAUTH_RATE_LIMIT_WINDOW_SECONDS` (fixed window); `OAUTH_RATE_LIMIT=0`, the default, turns the limit off;
 * - over the limit → 429 `{ error: "temporarily_unavailable", error_description }` with `Retry-After` and the
 *   IETF `RateLimit`/`RateLimit-Policy` headers, rendered by the OAuth error renderer like every other error;
 * - the client IP is `req.ip`, so behind a reverse proxy `TRUST_PROXY` must name it (see docs/oauth.md).
 * - the counters are the storage's shared ones with MongoDB (every instance counts against the same limit behind a
 *   load balancer), else this process's ({@link RateLimitCounters}).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Config } from '../config/schema';
import { MemoryWindowCounters } from '../storage/memory-counters';
import type { Storage, WindowCounters } from '../storage/ports';
import { WindowCounterStore } from './rate-limit-store';
import { TemporarilyUnavailableError } from '../oauth/errors';

/** The rate-limit counters of one app and whether other instances share them. */
export interface RateLimitCounters {
  counters: WindowCounters;
  shared: boolean;
}

/**
 * The counters an app's limiters use: the storage's shared ones (MongoDB), else new in-memory ones.
 * @param storage - the storage
 * @returns the counters
 */
export function rateLimitCounters(storage: Pick<Storage, 'sharedCounters'>): RateLimitCounters {
  return storage.sharedCounters ? { counters: storage.sharedCounters, shared: true } : { counters: new MemoryWindowCounters(), shared: false };
}

/**
 * The limiter of one endpoint (a pass-through when the limit is off).
 * @param config - `oauthRateLimit` and `oauthRateLimitWindowSeconds`
 * @param endpoint - the endpoint's name, used in the description and the `RateLimit` header
 * @param counters - the app's counters
 * @returns the middleware
 */
export function oauthRateLimit(config: Pick<Config, 'oauthRateLimit' | 'oauthRateLimitWindowSeconds'>, endpoint: string, counters: RateLimitCounters): RequestHandler {
  if (config.oauthRateLimit === 0) return (_req: Request, _res: Response, next: NextFunction) => next();
  const windowSeconds = config.oauthRateLimitWindowSeconds;
  return rateLimit({
    windowMs: windowSeconds * 1000,
    limit: config.oauthRateLimit,
    identifier: endpoint,
    store: new WindowCounterStore(counters.counters, `oauth:${endpoint}:`, counters.shared),
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
