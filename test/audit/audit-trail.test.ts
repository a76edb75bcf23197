/**
 * The trail's queue: a full queue drops and counts events and logs `audit_dropped` without holding requests up;
 * closing writes everything queued (it survives reopening the store); the retention purge removes what is older
 * than AUDIT_RETENTION_DAYS from reads and searches, and nothing when it is 0.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { RestEvent } from '../../src/audit/events';
import { AuditRetention, purgeAuditEvents } from '../../src/audit/retention';
import { AuditTrail } from '../../src/audit/trail';
import { createLogger } from '../../src/logger';
import { openStorage } from '../../src/storage/open';
import type { Storage } from '../../src/storage/ports';
import { buildTestApp } from '../helpers/build-test-app';
import { requestCount } from './audit-fixtures';

const DAY = 86_400_000;

function event(project: string, i: number): RestEvent {
  return {
    kind: 'rest',
    at: Date.now(),
    caller: { project, clientId: 'app', ip: '10.0.0.1' },
    interaction: 'read',
    method: 'GET',
    path: `Patient/p${i}`,
    resourceType: 'Patient',
    id: `p${i}`,
    touched: [{ type: 'Patient', id: `p${i}`, versionId: '1' }],
    outcome: { status: 200, decision: 'permitted' },
  };
}

function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

let dataDir: string;
let storage: Storage;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-audit-'));
  storage = await openStorage({ dataDir, logger: createLogger('silent') });
});
afterEach(async () => {
  await storage.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The requests the stored AuditEvents record (several requests of one caller and outcome share a record). */
async function count(s: Storage, project?: string): Promise<number> {
  const docs = await s.resources.search({ type: 'AuditEvent', deleted: false, ...(project ? { project } : {}) });
  return docs.reduce((sum, doc) => sum + requestCount(doc.resource as Record<string, unknown>), 0);
}

describe('drop policy', () => {
  it('drops, counts and logs events beyond the queue limit; recording never waits', async () => {
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({ store: storage.resources, logger, source: { publicUrl: 'https://fhir.example.test' }, queueLimit: 5 });
    for (let i = 0; i < 8; i++) expect(trail.record(event('t/p', i))).toBeUndefined();
    expect(trail.stats()).toEqual({ queued: 5, written: 0, dropped: 3, failedWrites: 0 });
    const dropped = lines.filter((l) => l.event === 'audit_dropped');
    expect(dropped[0]).toMatchObject({ level: 50, audit_dropped: 1, audit_dropped_total: 1, reason: 'the audit queue is full' });
    await trail.close();
    // The drops since the first line are reported when the trail closes.
    expect(lines.filter((l) => l.event === 'audit_dropped').at(-1)).toMatchObject({ audit_dropped: 2, audit_dropped_total: 3 });
    expect(await count(storage)).toBe(5);
  });

  it('answers requests while the queue is full, counting what it could not record', async () => {
    const t = await buildTestApp({ AUDIT: 'on', SEED_DEMO: 'false' }, { auditTrail: { queueLimit: 3, flushIntervalMs: 600_000 } });
    try {
      const before = t.audit.trail?.stats().dropped ?? 0;
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await t.api.get(`${t.base}/Patient?_count=1`)).status);
      expect(statuses).toEqual(Array.from({ length: 10 }, () => 200));
      expect((t.audit.trail?.stats().dropped ?? 0) - before).toBeGreaterThanOrEqual(7);
      expect(t.logLines.some((l) => l.event === 'audit_dropped' && l.level === 50)).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe('shutdown', () => {
  it('writes every queued event on close, in batches per project, and they survive reopening the store', async () => {
    const { logger } = capturedLogger();
    const trail = new AuditTrail({ store: storage.resources, logger, source: { publicUrl: 'https://fhir.example.test' }, flushIntervalMs: 600_000 }).start();
    for (let i = 0; i < 1200; i++) trail.record(event(i % 2 === 0 ? 't/a' : 't/b', i));
    await trail.close();
    expect(trail.stats()).toMatchObject({ queued: 0, written: 1200, dropped: 0 });
    trail.record(event('t/a', 0));
    expect(trail.stats().dropped).toBe(1);
    await storage.close();
    storage = await openStorage({ dataDir, logger: createLogger('silent') });
    expect(await count(storage, 't/a')).toBe(600);
    expect(await count(storage, 't/b')).toBe(600);
  });

  it('stores a batch in several store writes; after a failed one it writes the rest once: nothing lost, nothing twice', async () => {
    const { logger, lines } = capturedLogger();
    // The real store, with its third write refused once (as a full disk would).
    let writes = 0;
    const store = Object.create(storage.resources) as Storage['resources'];
    store.write = async (batch) => {
      writes++;
      if (writes === 3) throw new Error('no space left on device');
      return storage.resources.write(batch);
    };
    const trail = new AuditTrail({ store, logger, source: { publicUrl: 'https://fhir.example.test' }, flushIntervalMs: 600_000 }).start();
    // A client each: no two events share a record, so the 300 events make 300 AuditEvents of one project.
    for (let i = 0; i < 300; i++) trail.record({ ...event('t/a', i), caller: { project: 't/a', clientId: `app-${i}`, ip: '10.0.0.1' } });
    await trail.close();
    expect(writes).toBeGreaterThan(3);
    expect(trail.stats()).toMatchObject({ queued: 0, written: 300, dropped: 0, failedWrites: 1 });
    expect(lines.filter((l) => l.event === 'audit_write_failed')).toHaveLength(1);
    const stored = await storage.resources.search({ project: 't/a', type: 'AuditEvent', deleted: false });
    expect(stored).toHaveLength(300);
    const clients = stored.map((doc) => JSON.stringify((doc.resource as { agent?: unknown }).agent));
    expect(new Set(clients).size).toBe(300);
  });

  it('writes within the flush interval without being asked', async () => {
    const { logger } = capturedLogger();
    const trail = new AuditTrail({ store: storage.resources, logger, source: { publicUrl: 'https://fhir.example.test' }, flushIntervalMs: 50 }).start();
    trail.record(event('t/a', 1));
    const deadline = Date.now() + 20_000;
    while ((await count(storage)) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await count(storage)).toBe(1);
    await trail.close();
  });
});

describe('retention', () => {
  it('purges events older than AUDIT_RETENTION_DAYS and keeps newer ones; 0 keeps everything', async () => {
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({ store: storage.resources, logger, source: { publicUrl: 'https://fhir.example.test' } });
    for (let i = 0; i < 3; i++) trail.record(event('t/a', i));
    await trail.close();
    const [doc] = await storage.resources.search({ type: 'AuditEvent', deleted: false }, { limit: 1 });
    expect(await purgeAuditEvents(storage.resources, 0, Date.now() + 400 * DAY)).toBe(0);
    expect(await purgeAuditEvents(storage.resources, 30, Date.now())).toBe(0);
    expect(await count(storage)).toBe(3);
    // Thirty-one days later, the job purges all three.
    const job = new AuditRetention(storage.resources, 30, logger);
    // (The three reads share one record.)
    await purgeAuditEvents(storage.resources, 30, Date.now() + 31 * DAY).then((purged) => expect(purged).toBe(1));
    expect(await count(storage)).toBe(0);
    // Expunged: no current version, no deletion marker, no history.
    expect(await storage.resources.readCurrent('t/a', 'AuditEvent', String(doc?.id))).toBeUndefined();
    expect(await storage.resources.readVersion('t/a', 'AuditEvent', String(doc?.id), 1)).toBeUndefined();
    expect(await storage.resources.countHistory({ project: 't/a', type: 'AuditEvent' })).toBe(0);
    await job.run();
    expect(lines.filter((l) => l.event === 'audit_purge_failed')).toEqual([]);
    await job.stop();
  });

  it('leaves nothing of a purged AuditEvent to read, vread or find in history through the API', async () => {
    const t = await buildTestApp({ AUDIT: 'on', SEED_DEMO: 'false' });
    try {
      await t.api.get(`${t.base}/Patient?_count=1`).expect(200);
      await t.audit.trail?.flush();
      const [doc] = await t.storage.resources.search({ project: t.boot.project.key, type: 'AuditEvent' }, { limit: 1 });
      const id = String(doc?.id);
      await t.api.get(`${t.base}/AuditEvent/${id}`).expect(200);
      expect(await purgeAuditEvents(t.storage.resources, 1, Date.now() + 2 * DAY)).toBeGreaterThanOrEqual(1);
      for (const path of [`AuditEvent/${id}`, `AuditEvent/${id}/_history/1`, `AuditEvent/${id}/_history`]) {
        const res = await t.api.get(`${t.base}/${path}`).expect(404);
        expect(res.body.issue[0].code).toBe('not-found');
      }
      const history = await t.api.get(`${t.base}/AuditEvent/_history?_count=1000`).expect(200);
      expect(JSON.stringify(history.body)).not.toContain(id);
    } finally {
      await t.close();
    }
  });

  it('compacts the store after a purge that removed something, so the purged content leaves the disk', async () => {
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({ store: storage.resources, logger, source: { publicUrl: 'https://fhir.example.test' } });
    trail.record(event('t/a', 1));
    await trail.close();
    const journal = path.join(dataDir, 'journal.ndjson');
    expect(await readFile(journal, 'utf8')).toContain('Patient/p1');
    let compactions = 0;
    const compact = async (): Promise<void> => {
      compactions++;
      await storage.compact();
    };
    // Nothing old enough: no compaction.
    await new AuditRetention(storage.resources, 30, logger, undefined, compact).run();
    expect(compactions).toBe(0);
    const later = Date.now() + 40 * DAY;
    const realNow = Date.now;
    Date.now = () => later;
    try {
      await new AuditRetention(storage.resources, 30, logger, undefined, compact).run();
    } finally {
      Date.now = realNow;
    }
    expect(compactions).toBe(1);
    expect(lines.find((l) => l.event === 'audit_purged')).toMatchObject({ purged: 1, retentionDays: 30 });
    expect(await readFile(journal, 'utf8')).not.toContain('Patient/p1');
  });

  it('is not scheduled when the retention is 0', async () => {
    const { logger, lines } = capturedLogger();
    const job = new AuditRetention(storage.resources, 0, logger).start();
    await job.stop();
    expect(lines).toEqual([]);
  });
});
