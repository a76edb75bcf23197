/**
 * AUDIT_RETENTION_DAYS: AuditEvents stored more than that many days ago are purged, at start and then once a
 * day (0: kept forever). A purged event is deleted as a FHIR delete deletes: it no longer reads, searches or
 * counts; the storage port has no way yet to remove a version from history, so its content stays in the store's
 * version history (docs/audit.md "Retention").
 */
import type { Logger } from '../logger';
import type { ResourceStore, ResourceWrite } from '../storage/ports';
import { AUDIT_EVENT_TYPE } from './trail';

const DAY_MS = 86_400_000;
const BATCH = 500;

/**
 * Purges the AuditEvents of every project older than the retention.
 * @param store - the resource store
 * @param retentionDays - the retention (0: nothing is purged)
 * @param now - the current instant (epoch ms)
 * @returns how many were purged
 */
export async function purgeAuditEvents(store: ResourceStore, retentionDays: number, now = Date.now()): Promise<number> {
  if (retentionDays <= 0) return 0;
  const cutoff = new Date(now - retentionDays * DAY_MS).toISOString();
  let purged = 0;
  for (;;) {
    const old = await store.search({ type: AUDIT_EVENT_TYPE, deleted: false, lastUpdated: { $lt: cutoff } }, { limit: BATCH });
    if (old.length === 0) return purged;
    const at = new Date().toISOString();
    const writes: ResourceWrite[] = old.map((doc) => ({
      expectedVersion: doc.versionId,
      doc: { project: doc.project, type: AUDIT_EVENT_TYPE, id: doc.id, versionId: doc.versionId + 1, lastUpdated: at, deleted: true, method: 'delete' },
    }));
    await store.write(writes);
    purged += writes.length;
    if (old.length < BATCH) return purged;
  }
}

/** The daily purge job. */
export class AuditRetention {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  /**
   * @param store - the resource store
   * @param retentionDays - AUDIT_RETENTION_DAYS
   * @param logger - where purges and failures are logged
   * @param intervalMs - how often it runs (default a day)
   */
  constructor(
    private readonly store: ResourceStore,
    private readonly retentionDays: number,
    private readonly logger: Logger,
    private readonly intervalMs = DAY_MS,
  ) {}

  /**
   * Runs a purge now and then every interval (nothing when the retention is 0).
   * @returns this job
   */
  start(): this {
    if (this.retentionDays <= 0) return this;
    void this.run();
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /**
   * One purge (joined when one is running); failures are logged, never thrown.
   * @returns when it is done
   */
  run(): Promise<void> {
    this.running ??= purgeAuditEvents(this.store, this.retentionDays)
      .then((purged) => {
        if (purged > 0) this.logger.info({ event: 'audit_purged', purged, retentionDays: this.retentionDays }, 'audit events past their retention purged');
      })
      .catch((err: unknown) => {
        this.logger.error({ event: 'audit_purge_failed', err: err instanceof Error ? err.message : String(err) }, 'audit retention purge failed');
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /**
   * Stops the job and waits for a running purge.
   * @returns when stopped
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
