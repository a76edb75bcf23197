/**
 * The audit module: AUDIT=on gives the decision listener that writes AuditEvents (trail.ts) and the retention job
 * (retention.ts); AUDIT=off gives a listener that drops everything.
 */
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { ResourceStore } from '../storage/ports';
import { type DecisionListener, NO_AUDIT } from './events';
import { AuditRetention } from './retention';
import { AuditTrail, type AuditTrailOptions } from './trail';

export { type DecisionListener, NO_AUDIT } from './events';
export { AuditTrail } from './trail';

/** The running audit module. */
export interface Audit {
  /** Where decision events go. */
  listener: DecisionListener;
  /** The trail, when AUDIT=on. */
  trail?: AuditTrail;
  /** Stops the retention job and writes every queued event (graceful shutdown; before the store closes). */
  close(): Promise<void>;
}

/**
 * Starts the audit module.
 * @param config - AUDIT, AUDIT_RETENTION_DAYS, PUBLIC_URL
 * @param store - the resource store the AuditEvents go to
 * @param logger - the logger
 * @param options - `retention: false` leaves the purge job out (a second process on the same store); `trail`: the
 *   queue's limits; `compact`: run after a purge that removed something
 * @returns the module
 */
export function startAudit(
  config: Config,
  store: ResourceStore,
  logger: Logger,
  options: {
    retention?: boolean;
    trail?: Pick<AuditTrailOptions, 'queueLimit' | 'batchSize' | 'flushIntervalMs'>;
    /** Rewrites the store after a purge, so that purged content leaves the disk (Storage.compact). */
    compact?: () => Promise<void>;
  } = {},
): Audit {
  if (!config.audit) return { listener: NO_AUDIT, close: async () => undefined };
  const trail = new AuditTrail({ ...options.trail, store, logger, source: { publicUrl: config.publicUrl } }).start();
  const retention = options.retention === false ? undefined : new AuditRetention(store, config.auditRetentionDays, logger, undefined, options.compact).start();
  return {
    listener: trail,
    trail,
    close: async () => {
      await retention?.stop();
      await trail.close();
    },
  };
}
