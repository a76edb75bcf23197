/**
 * Rate limiting of failed sign-ins, per client IP and per account (project + email), each with its own
 * counter: after `maxFailures` failures within `windowSeconds` (counted from the first failure of the window),
 * further attempts for that key are refused with 429 until the window ends, even with the right password.
 * A successful sign-in clears the account's counter (not the IP's).
 *
 * The counters live in memory in each server instance: with several instances behind a load balancer an
 * attacker gets `maxFailures` per instance. That still bounds guessing to a few attempts per minute per
 * account and IP; a shared counter in storage is a later refinement.
 */

/** Limits from the configuration. */
export interface LoginLimits {
  maxFailures: number;
  windowSeconds: number;
}

interface Counter {
  failures: number;
  resetAt: number;
}

/** Bound on tracked keys; expired counters are swept first, then the oldest are dropped. */
const MAX_KEYS = 100_000;

/** Failure counters keyed by `ip:<address>` and `account:<project>|<email>`. */
export class LoginRateLimiter {
  private readonly counters = new Map<string, Counter>();

  /**
   * @param limits - failures allowed per window
   * @param now - clock in milliseconds (tests may pass their own)
   */
  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether any of the keys is blocked.
   * @param keys - the IP key and the account key
   * @returns seconds until the attempt would be allowed, or 0 when it is allowed now
   */
  retryAfter(keys: string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const counter = this.live(key, now);
      if (counter && counter.failures >= this.limits.maxFailures) wait = Math.max(wait, Math.ceil((counter.resetAt - now) / 1000));
    }
    return wait;
  }

  /**
   * Counts one failed attempt against each key.
   * @param keys - the IP key and the account key
   */
  recordFailure(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const counter = this.live(key, now);
      if (counter) counter.failures += 1;
      else {
        if (this.counters.size >= MAX_KEYS) this.evict(now);
        this.counters.set(key, { failures: 1, resetAt: now + this.limits.windowSeconds * 1000 });
      }
    }
  }

  /**
   * Forgets a key's failures (after a successful sign-in to that account).
   * @param key - the key
   */
  reset(key: string): void {
    this.counters.delete(key);
  }

  private live(key: string, now: number): Counter | undefined {
    const counter = this.counters.get(key);
    if (counter && counter.resetAt <= now) {
      this.counters.delete(key);
      return undefined;
    }
    return counter;
  }

  private evict(now: number): void {
    for (const [key, counter] of this.counters) if (counter.resetAt <= now) this.counters.delete(key);
    // Maps iterate in insertion order: drop the oldest tenth when sweeping freed too little.
    if (this.counters.size >= MAX_KEYS) {
      let drop = Math.ceil(MAX_KEYS / 10);
      for (const key of this.counters.keys()) {
        if (drop-- <= 0) break;
        this.counters.delete(key);
      }
    }
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
