/**
 * Rate limiting of failed sign-ins, per client IP and per account (project + email), each with its own
 * counter: after `maxFailures` failures within `windowSeconds` (counted from the first failure of the window),
 * further attempts for that key are refused with 429 until the window ends, even with the right password.
 * A successful sign-in clears the account's counter (not the IP's).
 *
 * The counters are the app's window counters: with MongoDB they are shared by every instance behind a load
 * balancer, so an attacker gets `maxFailures` in all, not per instance (docs/mongodb.md "Shared rate limits").
 */
import type { WindowCounters } from '../../storage/ports';

/** Limits from the configuration. */
export interface LoginLimits {
  maxFailures: number;
  windowSeconds: number;
}

/** Keeps the login counters apart from other limiters' keys. */
const PREFIX = 'login:';

/** Failure counters keyed by `ip:<address>` and `account:<project>|<email>`. */
export class LoginRateLimiter {
  /**
   * @param limits - failures allowed per window
   * @param counters - the app's window counters
   * @param now - clock in milliseconds (tests may pass their own; the counters keep their own clock)
   */
  constructor(
    private readonly limits: LoginLimits,
    private readonly counters: WindowCounters,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether any of the keys is blocked.
   * @param keys - the IP key and the account key
   * @param limits - the project's limits (ProjectSettings.loginRateLimit); default: the configuration's
   * @returns seconds until the attempt would be allowed, or 0 when it is allowed now
   */
  async retryAfter(keys: string[], limits: LoginLimits = this.limits): Promise<number> {
    const counts = await Promise.all(keys.map((key) => this.counters.get(PREFIX + key)));
    const now = this.now();
    let wait = 0;
    for (const count of counts) {
      if (count && count.hits >= limits.maxFailures) wait = Math.max(wait, Math.ceil((count.resetAt - now) / 1000));
    }
    return wait;
  }

  /**
   * Counts one failed attempt against each key.
   * @param keys - the IP key and the account key
   * @param limits - the project's limits; default: the configuration's
   */
  async recordFailure(keys: string[], limits: LoginLimits = this.limits): Promise<void> {
    await Promise.all(keys.map((key) => this.counters.increment(PREFIX + key, limits.windowSeconds * 1000)));
  }

  /**
   * Forgets a key's failures (after a successful sign-in to that account).
   * @param key - the key
   */
  async reset(key: string): Promise<void> {
    await this.counters.reset(PREFIX + key);
  }
}

/**
 * The limiter keys of one attempt.
 * @param ip - the client address
 * @param project - the project key
 * @param email - the submitted email (normalized here)
 * @returns the IP key and the account key
 */
export function loginKeys(ip: string, project: string, email: string): { ip: string; account: string } {
  return { ip: `ip:${ip}`, account: `account:${project}|${email.trim().toLowerCase()}` };
}
