/**
 * AUDIT_RETENTION_DAYS: AuditEvents stored more than that many days ago are purged, at start and then once a
 * day (0: kept forever). A purged event is expunged (ResourceStore.expunge): its current version and its history
 * are removed, so it no longer reads, vreads, searches, counts or shows in history (404, as an id never used), and
 * the embedded store drops its bytes from DATA_DIR at the next journal compaction (docs/audit.md "Retention").
 */
import type { Logger } from '../logger';
import type { ResourceStore } from '../storage/ports';
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
    // Deletion markers too: AuditEvents deleted before purges expunged them.
    const old = await store.search({ type: AUDIT_EVENT_TYPE, deleted: { $in: [false, true] }, lastUpdated: { $lt: cutoff } }, { limit: BATCH });
    if (old.length === 0) return purged;
    const byProject = new Map<string, string[]>();
    for (const doc of old) byProject.set(doc.project, [...(byProject.get(doc.project) ?? []), doc.id]);
    for (const [project, ids] of byProject) await store.expunge(project, AUDIT_EVENT_TYPE, ids);
    purged += old.length;
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
   * @param compact - run after a purge that removed something, so that the purged content leaves the disk
   */
  constructor(
    private readonly store: ResourceStore,
    private readonly retentionDays: number,
    private readonly logger: Logger,
    private readonly intervalMs = DAY_MS,
    private readonly compact?: () => Promise<void>,
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
      .then(async (purged) => {
        if (purged === 0) return;
        this.logger.info({ event: 'audit_purged', purged, retentionDays: this.retentionDays }, 'audit events past their retention purged');
        // Without it the purged content stays in the embedded journal until its next automatic compaction.
        await this.compact?.().catch((err: unknown) => {
          this.logger.warn({ event: 'audit_compaction_failed', err: err instanceof Error ? err.message : String(err) }, 'purged audit events stay on disk until the next compaction');
        });
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
