/**
 * kill -9 in the middle of a write burst: every write the store acknowledged must survive, and the store must
 * open cleanly afterwards. The writes share fdatasyncs (group commit): the writer reports how many it took. The writer (fixtures/crash-writer.ts) prints a line per acknowledged write; the test
 * SIGKILLs it after a few hundred acknowledgements, reopens the store in-process and checks each one. Several
 * rounds run on the same directory, so each round also replays what the previous rounds left.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEmbeddedStorage } from '../../../src/storage/embedded';
import type { StorageLogger } from '../../../src/storage/logger';
import { spawnTs } from '../../helpers/child-processes';
import { observeStore } from '../../helpers/store-observation';

const WRITER = path.join('test', 'storage', 'embedded', 'fixtures', 'crash-writer.ts');
const ROUNDS = 3;

interface Acks {
  resources: string[];
  records: string[];
  counterVersion: number;
  /** The writer's last report: fdatasyncs so far and acknowledged writes so far. */
  syncs?: { fdatasyncs: number; acknowledged: number };
}

/** Runs the writer until `threshold` acknowledgements were printed, then SIGKILLs it. */
async function runAndKill(dataDir: string, tag: string, threshold: number, snapshotMinBytes?: number): Promise<Acks> {
  const child = spawnTs(WRITER, [dataDir, tag, ...(snapshotMinBytes === undefined ? [] : [String(snapshotMinBytes)])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: Acks = { resources: [], records: [], counterVersion: 0 };
  let writerPid: number | undefined;
  let count = 0;
  let killed = false;
  let stderr = '';
  let pending = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const [kind, ...rest] = pending.slice(0, nl).split(' ');
      pending = pending.slice(nl + 1);
      if (kind === 'pid') writerPid = Number(rest[0]);
      else if (kind === 'res' || kind === 'batch') acks.resources.push(...rest);
      else if (kind === 'rec') acks.records.push(rest[0] as string);
      else if (kind === 'ver') acks.counterVersion = Math.max(acks.counterVersion, Number(rest[0]));
      else if (kind === 'syncs') {
        acks.syncs = { fdatasyncs: Number(rest[0]), acknowledged: Number(rest[1]) };
        continue;
      } else continue;
      count++;
      if (!killed && count >= threshold && writerPid !== undefined) {
        killed = true;
        process.kill(writerPid, 'SIGKILL');
      }
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  if (!killed) throw new Error(`writer exited before it was killed (code ${code}, signal ${signal}): ${stderr}`);
  return acks;
}

describe('embedded store under kill -9', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-crash-'));
  });

  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test.each([
    ['', undefined],
    [' (start-up snapshots written all the time, killed while one is written at times)', 8192],
  ])('every acknowledged write survives and the store reopens cleanly, round after round%s', async (_, snapshotMinBytes) => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true });
    const everyResource: string[] = [];
    const everyRecord: string[] = [];
    let counterFloor = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const threshold = 200 + Math.floor(Math.random() * 800);
      const acks = await runAndKill(dataDir, `r${round}`, threshold, snapshotMinBytes);
      expect(acks.resources.length + acks.records.length).toBeGreaterThan(100);
      // Group commit: with 300 writes in flight, far fewer fdatasyncs than acknowledged writes.
      expect(acks.syncs?.acknowledged).toBeGreaterThanOrEqual(100);
      expect(acks.syncs?.fdatasyncs).toBeLessThan((acks.syncs?.acknowledged ?? 0) / 5);
      everyResource.push(...acks.resources);
      everyRecord.push(...acks.records);
      counterFloor = Math.max(counterFloor, acks.counterVersion);

      const messages: string[] = [];
      const logger = { info: (_: unknown, m: string) => messages.push(m), warn: (_: unknown, m: string) => messages.push(m), error: (_: unknown, m: string) => messages.push(m) };
      const storage = await openEmbeddedStorage({ dataDir, logger: logger as unknown as StorageLogger });
      // The writer wrote snapshots as it went (unless killed before the first completed): the store started from
      // the last one it completed.
      if (fs.existsSync(path.join(dataDir, 'snapshot.ndjson'))) expect(messages).toContain('snapshot: loaded');
      expect(messages.filter((m) => m.startsWith('snapshot: ignored'))).toEqual([]);
      try {
        const missing: string[] = [];
        for (const id of everyResource) {
          const type = id.endsWith('-b') ? 'Observation' : 'Patient';
          const doc = await storage.resources.readCurrent('crash', type, id);
          if (doc?.resource?.id !== id || doc.versionId !== 1) missing.push(id);
        }
        for (const key of everyRecord) if (!(await storage.records.get('crash', key))) missing.push(`record ${key}`);
        expect(missing).toEqual([]);
        const counter = await storage.resources.readCurrent('crash', 'Basic', 'counter');
        expect(counter?.versionId ?? 0).toBeGreaterThanOrEqual(counterFloor);
        expect(await storage.resources.countHistory({ project: 'crash', type: 'Basic', id: 'counter' })).toBe(
          counter?.versionId ?? 0,
        );
        // A batch is atomic: both halves or neither, acknowledged or not.
        const halves = await storage.resources.search({ project: 'crash', id: /-a$|-b$/ });
        const ids = new Set(halves.map((d) => d.id));
        for (const id of ids) expect(ids.has(id.endsWith('-a') ? `${id.slice(0, -2)}-b` : `${id.slice(0, -2)}-a`)).toBe(true);
        if (snapshotMinBytes !== undefined) {
          // The state started from the snapshot the kill left equals the one a full replay gives.
          const replayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-crash-replay-'));
          try {
            for (const name of fs.readdirSync(dataDir)) {
              if (name.startsWith('journal')) fs.copyFileSync(path.join(dataDir, name), path.join(replayDir, name));
            }
            const replayed = await openEmbeddedStorage({ dataDir: replayDir });
            try {
              const plan = {
                projects: ['crash'],
                types: ['Patient', 'Observation', 'Basic'],
                recordKinds: ['crash'],
                filters: [
                  { project: 'crash', type: 'Patient', deleted: false, 'index.tags': { $elemMatch: { c: `r${round}` } } },
                  { project: 'crash', type: 'Observation', deleted: false },
                  { project: 'crash', type: 'Basic' },
                ],
              };
              expect(await observeStore(storage, plan)).toEqual(await observeStore(replayed, plan));
            } finally {
              await replayed.close();
            }
          } finally {
            fs.rmSync(replayDir, { recursive: true, force: true });
          }
        }
      } finally {
        await storage.close();
      }
    }
  }, 120_000);
});
