/**
 * Remote JWK Sets (a `private_key_jwt` client's `jwksUri`; later an identity provider's `jwks_uri`), fetched with
 * {@link guardedGet} and cached per URL:
 * - a set is kept for the response's `Cache-Control: max-age`, clamped to [min, max] (`JWKS_CACHE_MIN_SECONDS`,
 *   `JWKS_CACHE_MAX_SECONDS`); without a usable max-age (none, `no-store`, `no-cache`) for the minimum;
 * - a `kid` the cached set does not hold triggers a refetch (the client rotated its keys), at most once per minimum
 *   age per URL, so assertions naming random `kid`s cannot turn the server into a request generator;
 * - at most one fetch per URL is in flight: concurrent callers share its promise;
 * - a failed fetch is remembered for {@link FAILURE_MEMORY_MS}: callers in that window fail at once instead of each
 *   waiting for the same dead or dripping server;
 * - at most {@link MAX_URLS} URLs are cached (least recently fetched dropped first); a set holds at most
 *   {@link MAX_KEYS} keys.
 */
import type { JSONWebKeySet } from 'jose';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import { AddressPolicy } from './address-policy';
import { guardedGet, type GuardedGetOptions, OutboundRequestError } from './guarded-get';

/** Most URLs cached at once. */
const MAX_URLS = 1000;
/** Most keys accepted in one set. */
const MAX_KEYS = 100;
/** How long a failed fetch answers for its URL without a new attempt. */
export const FAILURE_MEMORY_MS = 10_000;

/** Permissions and limits of remote JWKS fetching. */
export interface RemoteJwksOptions {
  /** `ALLOW_HTTP_JWKS_URI=loopback`: `http:` URLs, and loopback addresses, are allowed (tests only). */
  allowLoopback: boolean;
  /** `JWKS_ALLOWED_HOSTS`: host names, IP addresses and CIDR ranges that may be private. */
  allowedHosts: string[];
  /** `JWKS_MAX_BYTES`: largest accepted response. */
  maxBytes: number;
  /** `JWKS_TIMEOUT_MS`: deadline of one fetch. */
  timeoutMs: number;
  /** `JWKS_CACHE_MIN_SECONDS` / `JWKS_CACHE_MAX_SECONDS`: bounds of the cache lifetime. */
  minCacheSeconds: number;
  maxCacheSeconds: number;
  /** The clock (epoch milliseconds); tests move it. */
  now?: () => number;
  /** Where failed fetches are reported, with their cause (never shown to clients). */
  logger?: Logger;
}

/**
 * The remote JWKS options of a configuration.
 * @param config - the configuration
 * @param logger - where failures are logged
 * @returns the options
 */
export function remoteJwksOptions(config: Config, logger?: Logger): RemoteJwksOptions {
  return {
    allowLoopback: config.allowHttpJwksUri === 'loopback',
    allowedHosts: config.jwksAllowedHosts,
    maxBytes: config.jwksMaxBytes,
    timeoutMs: config.jwksTimeoutMs,
    minCacheSeconds: config.jwksCacheMinSeconds,
    maxCacheSeconds: config.jwksCacheMaxSeconds,
    logger,
  };
}

interface CacheEntry {
  jwks?: JSONWebKeySet;
  fetchedAt: number;
  expiresAt: number;
  failure?: OutboundRequestError;
  failedUntil: number;
}

/** The cached remote key sets of one server. */
export class RemoteJwks {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<JSONWebKeySet>>();
  private readonly fetchOptions: GuardedGetOptions;
  private readonly now: () => number;

  constructor(private readonly options: RemoteJwksOptions) {
    this.now = options.now ?? Date.now;
    this.fetchOptions = {
      policy: new AddressPolicy({ allowLoopback: options.allowLoopback, allowedHosts: options.allowedHosts }),
      allowHttpLoopback: options.allowLoopback,
      maxBytes: options.maxBytes,
      timeoutMs: options.timeoutMs,
      headers: { accept: 'application/jwk-set+json, application/json' },
    };
  }

  /**
   * The key set at a URL, fetched when it is not cached, expired, or lacks `kid` (at most once per minimum age).
   * @param uri - the JWKS URL
   * @param kid - the key id the caller needs, if any
   * @returns the set (which may still lack `kid`: the caller then refuses the signature)
   * @throws OutboundRequestError when the set cannot be fetched; its message is safe to show
   */
  async keySet(uri: string, kid?: string): Promise<JSONWebKeySet> {
    const now = this.now();
    const entry = this.cache.get(uri);
    if (entry?.jwks && now < entry.expiresAt) {
      const hasKid = kid === undefined || entry.jwks.keys.some((key) => key.kid === kid);
      if (hasKid || now - entry.fetchedAt < this.options.minCacheSeconds * 1000) return entry.jwks;
    }
    if (entry?.failure && now < entry.failedUntil) throw entry.failure;
    let fetching = this.inFlight.get(uri);
    if (!fetching) {
      fetching = this.fetch(uri).finally(() => this.inFlight.delete(uri));
      this.inFlight.set(uri, fetching);
    }
    return fetching;
  }

  private async fetch(uri: string): Promise<JSONWebKeySet> {
    const previous = this.cache.get(uri);
    try {
      const { headers, body } = await guardedGet(uri, this.fetchOptions);
      const jwks = parseJwks(body);
      const fetchedAt = this.now();
      this.remember(uri, { jwks, fetchedAt, expiresAt: fetchedAt + this.cacheSeconds(headers['cache-control']) * 1000, failedUntil: 0 });
      return jwks;
    } catch (err) {
      const failure = err instanceof OutboundRequestError ? err : new OutboundRequestError('connect', 'could not be reached', { cause: err });
      this.options.logger?.warn({ jwksUri: uri, reason: failure.reason, err: failure.cause ?? failure }, `remote JWKS fetch failed: ${failure.message}`);
      const failedUntil = this.now() + FAILURE_MEMORY_MS;
      // A failed refetch keeps the set still within its lifetime (callers with a known kid go on using it).
      this.remember(uri, { ...(previous ?? { fetchedAt: 0, expiresAt: 0 }), failure, failedUntil });
      throw failure;
    }
  }

  private remember(uri: string, entry: CacheEntry): void {
    this.cache.delete(uri);
    this.cache.set(uri, entry);
    if (this.cache.size > MAX_URLS) this.cache.delete(this.cache.keys().next().value as string);
  }

  private cacheSeconds(cacheControl: string | undefined): number {
    const { minCacheSeconds: min, maxCacheSeconds: max } = this.options;
    const directives = (cacheControl ?? '').toLowerCase();
    const maxAge = /(?:^|[,\s])max-age\s*=\s*"?(\d+)"?/.exec(directives);
    if (!maxAge || /(?:^|[,\s])(?:no-store|no-cache)(?:$|[,\s=])/.test(directives)) return min;
    return Math.min(Math.max(Number(maxAge[1]), min), max);
  }
}

/**
 * Parses a JWK Set document.
 * @param body - the response body
 * @returns the set
 * @throws OutboundRequestError when it is not a JSON JWK Set of at most {@link MAX_KEYS} keys
 */
function parseJwks(body: Buffer): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    doc = undefined;
  }
  const keys = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'object' && key !== null && typeof (key as { kty?: unknown }).kty === 'string')) {
    throw new OutboundRequestError('content', 'did not answer a JWK Set');
  }
  if (keys.length > MAX_KEYS) throw new OutboundRequestError('content', `answered more than ${MAX_KEYS} keys`);
  return { keys } as JSONWebKeySet;
}
