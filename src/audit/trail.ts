/**
 * The audit trail: the decision listener that turns events into AuditEvent resources and stores them in the
 * project's resource store, asynchronously and in batches, never in the request's own write (docs/audit.md):
 * - `record` only appends to a bounded in-memory queue; a request never waits for the trail;
 * - the queue is written at least every second (FLUSH_INTERVAL_MS), and at once when a full batch is waiting;
 *   a batch is built a time slice at a time and stored at most RECORDS_PER_WRITE AuditEvents of one project per
 *   store write, so writing a second's events never holds requests back for long; within a batch, FHIR
 *   interactions of the same caller, interaction and outcome share one AuditEvent (`period` spans them; see
 *   audit-event.ts), which keeps a read's cost small;
 * - a full queue drops the new event, counts it (`dropped`) and logs `audit_dropped` at error level (the first
 *   drop at once, then at most once a second with the count since the last line);
 * - a failed write (storage unavailable) is retried on the next tick while the queue has room, counted as dropped
 *   otherwise;
 * - `close()` (graceful shutdown) writes everything queued. A crash loses what was queued and not yet written: at
 *   most the last second of events (plus the batch being written).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import { buildSearchIndex } from '../fhir/search/indexing/build-index';
import { TimeSlice } from '../time-slice';
import type { ResourceStore, ResourceWrite } from '../storage/ports';
import { type AuditSource, groupKey, toAuditEvent, toGroupedAuditEvent } from './audit-event';
import type { DecisionEvent, DecisionListener, RestEvent } from './events';

/** The most requests one AuditEvent records, and the most resources it lists. */
const GROUP_EVENTS = 100;
const GROUP_RESOURCES = 200;
/** The most AuditEvents one store write holds. */
const RECORDS_PER_WRITE = 10;

/**
 * The records of a batch: FHIR interaction events of the same caller, interaction and outcome share one
 * AuditEvent (up to GROUP_EVENTS requests and GROUP_RESOURCES resources); every security event is its own.
 * @param batch - the events, oldest first
 * @returns the groups, each oldest first
 */
function groups(batch: readonly DecisionEvent[]): DecisionEvent[][] {
  const result: DecisionEvent[][] = [];
  const open = new Map<string, { events: RestEvent[]; resources: number }>();
  for (const event of batch) {
    if (event.kind !== 'rest') {
      result.push([event]);
      continue;
    }
    const key = groupKey(event);
    let group = open.get(key);
    if (!group || group.events.length >= GROUP_EVENTS || group.resources + event.touched.length > GROUP_RESOURCES) {
      group = { events: [], resources: 0 };
      open.set(key, group);
      result.push(group.events);
    }
    group.events.push(event);
    group.resources += event.touched.length;
  }
  return result;
}

/** How the trail queues and writes. */
export interface AuditTrailOptions {
  store: ResourceStore;
  logger: Logger;
  source: AuditSource;
  /** Events held at most before new ones are dropped (default 20,000). */
  queueLimit?: number;
  /** Events taken from the queue per batch at most (default 500). */
  batchSize?: number;
  /** The longest an event waits before it is written (default 1000 ms). */
  flushIntervalMs?: number;
}

/** Counters of the trail (also logged). */
export interface AuditStats {
  queued: number;
  written: number;
  /** Events lost: queue full, or a write failed with no room to retry. */
  dropped: number;
  failedWrites: number;
}

/** The resource type the trail writes. */
export const AUDIT_EVENT_TYPE = 'AuditEvent';

/** The AuditEvent writer. */
export class AuditTrail implements DecisionListener {
  private queue: DecisionEvent[] = [];
  private readonly queueLimit: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private soon = false;
  private closed = false;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private readonly counts = { written: 0, dropped: 0, failedWrites: 0 };

  /** @param options - the store, logger, source and limits */
  constructor(private readonly options: AuditTrailOptions) {
    this.queueLimit = options.queueLimit ?? 20_000;
    this.batchSize = options.batchSize ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
  }

  /**
   * Starts the periodic flush.
   * @returns this trail
   */
  start(): this {
    this.timer ??= setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
    return this;
  }

  /** The counters. */
  stats(): AuditStats {
    return { queued: this.queue.length, ...this.counts };
  }

  record(event: DecisionEvent): void {
    if (this.closed || this.queue.length >= this.queueLimit) {
      this.drop(1, this.closed ? 'the audit trail is closed' : 'the audit queue is full');
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= this.batchSize && !this.soon && this.timer) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.flush();
      });
    }
  }

  /**
   * Writes what is queued, one batch after the other (a flush already running is joined).
   * @returns when the queue has been written (or its writes failed)
   */
  flush(): Promise<void> {
    this.logDrops(false);
    this.flushing ??= this.drain()
      .catch((err: unknown) => {
        this.options.logger.error({ event: 'audit_write_failed', err: err instanceof Error ? err.message : String(err) }, 'audit trail flush failed');
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /**
   * Stops the timer and writes everything queued; events recorded afterwards are dropped (and counted).
   * @returns when the queue is written
   */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    // A batch that failed is retried once more before the store closes.
    if (this.queue.length > 0) await this.flush();
    this.closed = true;
    if (this.queue.length > 0) {
      this.drop(this.queue.length, 'the store did not take them before shutdown');
      this.queue = [];
    }
    this.logDrops(true);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      if (!(await this.write(batch))) {
        // Retried on the next tick, while there is room; the rest is lost and counted.
        const room = Math.max(0, this.queueLimit - this.queue.length);
        this.queue.unshift(...batch.slice(0, room));
        if (batch.length > room) this.drop(batch.length - room, 'writing them failed and the queue is full');
        return;
      }
      // Let requests run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async write(batch: DecisionEvent[]): Promise<boolean> {
    // Built a time slice at a time and stored a few records per store write, so that writing a second's events
    // never holds requests back for long (a record of a search lists up to GROUP_RESOURCES resources).
    const slice = new TimeSlice();
    const records: Array<{ project: string; write: ResourceWrite; events: readonly DecisionEvent[] }> = [];
    const lastUpdated = new Date().toISOString();
    let unbuildable = 0;
    for (const group of groups(batch)) {
      await slice.breathe();
      const event = group[0] as DecisionEvent;
      try {
        records.push({ project: event.caller.project, write: this.toWrite(group, lastUpdated), events: group });
      } catch (err) {
        // Never expected; an event that cannot be built is counted and logged, and never stops the others.
        unbuildable += group.length;
        this.options.logger.error({ event: 'audit_build_failed', err: err instanceof Error ? err.message : String(err) }, 'an audit event could not be built');
      }
    }
    if (unbuildable > 0) this.drop(unbuildable, 'they could not be built');
    // Grouped by project (a store write is one project's), in chunks of at most RECORDS_PER_WRITE.
    const chunks: Array<typeof records> = [];
    const open = new Map<string, typeof records>();
    for (const record of records) {
      let chunk = open.get(record.project);
      if (!chunk || chunk.length >= RECORDS_PER_WRITE) {
        chunk = [];
        open.set(record.project, chunk);
        chunks.push(chunk);
      }
      chunk.push(record);
    }
    const stored = new Set<DecisionEvent>();
    try {
      for (const chunk of chunks) {
        await slice.breathe();
        await this.options.store.write(chunk.map((record) => record.write));
        for (const record of chunk) {
          for (const event of record.events) stored.add(event);
          this.counts.written += record.events.length;
        }
      }
      return true;
    } catch (err) {
      this.counts.failedWrites++;
      this.options.logger.error({ event: 'audit_write_failed', err: err instanceof Error ? err.message : String(err), events: batch.length }, 'audit events could not be stored; retrying');
      // Records already stored are not written again; events that could not be built are not retried either
      // (they were counted as dropped).
      const built = new Set(records.flatMap((record) => record.events));
      batch.splice(0, batch.length, ...batch.filter((e) => built.has(e) && !stored.has(e)));
      return false;
    }
  }

  private toWrite(group: readonly DecisionEvent[], lastUpdated: string): ResourceWrite {
    const id = randomUUID();
    const event = group[0] as DecisionEvent;
    const built = group.length === 1 ? toAuditEvent(event, this.options.source) : toGroupedAuditEvent(group as RestEvent[], this.options.source);
    const resource = { ...built, id, meta: { versionId: '1', lastUpdated } };
    const { index, sort } = buildSearchIndex(resource);
    return {
      expectedVersion: 0,
      doc: { project: event.caller.project, type: AUDIT_EVENT_TYPE, id, versionId: 1, lastUpdated, deleted: false, method: 'create', resource, index, sort },
    };
  }

  private drop(count: number, why: string): void {
    this.counts.dropped += count;
    this.droppedSinceLog += count;
    this.lastDropReason = why;
    this.logDrops(false);
  }

  private lastDropReason = '';

  /** Logs drops: at once for the first, then at most once a second (or now, when forced). */
  private logDrops(force: boolean): void {
    if (this.droppedSinceLog === 0) return;
    const now = Date.now();
    if (!force && now - this.lastDropLog < 1000) return;
    this.lastDropLog = now;
    this.options.logger.error(
      { event: 'audit_dropped', audit_dropped: this.droppedSinceLog, audit_dropped_total: this.counts.dropped, reason: this.lastDropReason },
      `AUDIT EVENTS DROPPED: ${this.droppedSinceLog} event(s) not recorded (${this.lastDropReason})`,
    );
    this.droppedSinceLog = 0;
  }
}
