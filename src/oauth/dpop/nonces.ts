/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), one per project and period of DPOP_NONCE_LIFETIME_SECONDS.
 * The nonce of a period is a random value stored in the record store (kind `dpop-nonce`, created by whichever
 * instance needs it first: `insert` admits one), so every instance sharing the store hands out and accepts the same
 * nonces. A proof may carry the current nonce or the previous period's, so a client that just received a nonce
 * is not refused when the period turns. Each instance keeps the values it has read in memory.
 */
import { randomBytes } from 'node:crypto';
import type { RecordStore } from '../../storage/ports';

const KIND = 'dpop-nonce';
/** Bound of the in-memory copy; it is emptied when reached. */
const MAX_CACHED = 1000;

/** The nonces of every project. */
export class DpopNonces {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly records: RecordStore,
    private readonly lifetimeSeconds: number,
  ) {}

  /**
   * The nonce clients must use now.
   * @param project - the project key
   * @returns the nonce
   */
  async current(project: string): Promise<string> {
    return (await this.nonceOf(project, this.period(), true)) as string;
  }

  /**
   * Whether a proof's nonce is the current or the previous one.
   * @param project - the project key
   * @param nonce - the proof's `nonce`, if any
   * @returns true when accepted
   */
  async accepts(project: string, nonce: string | undefined): Promise<boolean> {
    if (nonce === undefined) return false;
    const period = this.period();
    if ((await this.nonceOf(project, period, true)) === nonce) return true;
    return (await this.nonceOf(project, period - 1, false)) === nonce;
  }

  private period(): number {
    return Math.floor(Date.now() / 1000 / this.lifetimeSeconds);
  }

  private async nonceOf(project: string, period: number, create: boolean): Promise<string | undefined> {
    const key = `${project}|${period}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let value = (await this.records.get(KIND, key, { shared: true }))?.value.nonce;
    if (typeof value !== 'string' && create) {
      const nonce = randomBytes(24).toString('base64url');
      // Kept until the period after this one has ended too.
      const expiresAt = new Date((period + 2) * this.lifetimeSeconds * 1000).toISOString();
      value = (await this.records.insert({ kind: KIND, key, value: { nonce }, expiresAt })) ? nonce : (await this.records.get(KIND, key))?.value.nonce;
    }
    if (typeof value !== 'string') return undefined;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, value);
    return value;
  }
}
