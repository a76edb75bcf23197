/**
 * The Bulk Data export service (docs/bulk-export.md): accepts jobs, runs them in the background (at most
 * BULK_EXPORT_CONCURRENCY at once per process, the others queued), answers their status and files, cancels them,
 * resumes unfinished jobs at start, and sweeps the files of expired jobs.
 *
 * A job is run by the process that holds its lease (a record renewed while it runs), so that with MongoDB two
 * instances never write the same job; the embedded store belongs to one process, which takes over every
 * unfinished job at start. A job taken over starts again at the type it was writing (export-runner.ts); after
 * {@link MAX_ATTEMPTS} starts it is finished with an error line instead.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/schema';
import type { Logger } from '../../logger';
import type { ProjectRegistry } from '../../tenancy/projects';
import type { CallerAccess } from '../access/caller-context';
import { ScopeGate } from '../access/scope-gate';
import { fhirBaseUrl } from '../rest/base-url';
import { ExportFiles } from './export-files';
import type { ExportJob, ExportJobs, JobOwner } from '../../bulk/export-jobs';
import type { ExportRequest } from './export-request';
import { ERROR_FILE, errorOutcome, ExportCancelledError, runExport } from './export-runner';

/** Starts of one job after which it is finished with an error instead of resumed again. */
export const MAX_ATTEMPTS = 3;
/** How long a lease lasts unless renewed; renewed every {@link HEARTBEAT_MS}. */
const LEASE_MS = 60_000;
const HEARTBEAT_MS = 5_000;
/** How often expired files are swept and (MongoDB) jobs left by a stopped instance are taken over. */
const SWEEP_MS = 60_000;
/** Resources per page search. */
const PAGE_SIZE = 250;

/** What the service needs. */
export interface BulkExportDeps {
  config: Config;
  /** The job records (src/bulk/export-jobs.ts). */
  jobs: ExportJobs;
  access: CallerAccess;
  projects: ProjectRegistry;
  logger: Logger;
  /** True when the store belongs to this process alone (embedded): every unfinished job is its own at start. */
  singleProcess: boolean;
}

/** Where a running job is, as `X-Progress` tells. */
interface Progress {
  type?: string;
  count: number;
}

/** Why a running job is stopped. */
type StopReason = 'cancelled' | 'shutdown';

/** The export service; see the module comment. */
export class BulkExports {
  readonly jobs: ExportJobs;
  readonly files: ExportFiles;
  private readonly instance = randomUUID();
  private readonly queue: string[] = [];
  private readonly running = new Map<string, { stop?: StopReason; progress: Progress; done: Promise<void> }>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  /** @param deps - configuration, stores, the access layer and the logger */
  constructor(private readonly deps: BulkExportDeps) {
    this.jobs = deps.jobs;
    this.files = new ExportFiles(deps.config.bulkExportDir);
  }

  /** Resumes unfinished jobs and starts the sweep. */
  start(): this {
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
    void this.resume(this.deps.singleProcess).then(() => this.sweep());
    return this;
  }

  /** Stops the sweep and the running jobs; they stay unfinished and resume at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.queue.length = 0;
    for (const run of this.running.values()) run.stop = 'shutdown';
    await Promise.all([...this.running.values()].map((run) => run.done));
  }

  /**
   * Creates a job and queues it.
   * @param owner - the token that starts it
   * @param params - the checked kick-off parameters
   * @param request - the kick-off URL
   * @returns the job, or undefined when the client already has as many unfinished jobs as allowed
   */
  async create(owner: JobOwner, params: ExportRequest, request: string): Promise<ExportJob | undefined> {
    const unfinished = await this.jobs.unfinishedOf(owner);
    if (unfinished.length >= this.deps.config.bulkExportMaxJobsPerClient) return undefined;
    const now = new Date().toISOString();
    const job: ExportJob = {
      id: randomUUID(),
      owner,
      request,
      params,
      status: 'queued',
      transactionTime: now,
      typeIndex: 0,
      files: [],
      errors: params.ignored.map((why) => errorOutcome('not-supported', `Ignored (Prefer: handling=lenient): ${why}`)),
      exported: 0,
      attempts: 0,
      createdAt: now,
    };
    await this.jobs.put(job);
    this.enqueue(job.id);
    return job;
  }

  /**
   * A job as its owner sees it: undefined for a job of another client, user or project (as for an unknown one).
   * @param id - the job id
   * @param owner - the token asking
   * @returns the job
   */
  async find(id: string, owner: Pick<JobOwner, 'project' | 'clientId' | 'userId'>): Promise<ExportJob | undefined> {
    const job = await this.jobs.get(id);
    if (!job || job.owner.project !== owner.project || job.owner.clientId !== owner.clientId || job.owner.userId !== owner.userId) return undefined;
    return job;
  }

  /**
   * Where a job is, for `X-Progress`.
   * @param job - the job
   * @returns a short text
   */
  progress(job: ExportJob): string {
    if (job.status === 'queued') return 'queued';
    const local = this.running.get(job.id)?.progress;
    const total = job.types?.length ?? 0;
    const type = local?.type ?? job.types?.[job.typeIndex];
    return `${job.typeIndex} of ${total} types done, ${job.exported + (local?.count ?? 0)} resources${type ? `; writing ${type}` : ''}`;
  }

  /**
   * Cancels a job: its record and files are deleted; a run in progress stops at its next page.
   * @param job - the job (its owner checked)
   */
  async cancel(job: ExportJob): Promise<void> {
    const index = this.queue.indexOf(job.id);
    if (index >= 0) this.queue.splice(index, 1);
    const run = this.running.get(job.id);
    if (run) {
      run.stop = 'cancelled';
      await run.done;
    }
    await this.jobs.delete(job.id);
    await this.files.remove(job.id);
  }

  /** Deletes the directories of jobs whose record is gone (expired or cancelled); takes over abandoned jobs. */
  async sweep(): Promise<void> {
    try {
      const live = await this.jobs.liveIds();
      for (const id of await this.files.jobIds()) if (!live.has(id) && !this.running.has(id)) await this.files.remove(id);
      if (!this.deps.singleProcess && !this.stopped) await this.resume(false);
    } catch (err) {
      this.deps.logger.error({ err }, 'bulk export sweep failed');
    }
  }

  private async resume(takeOver: boolean): Promise<void> {
    try {
      for (const job of await this.jobs.unfinished()) {
        if (takeOver) await this.jobs.release(job.id);
        this.enqueue(job.id);
      }
    } catch (err) {
      this.deps.logger.error({ err }, 'bulk export jobs could not be resumed');
    }
  }

  private enqueue(id: string): void {
    if (this.stopped || this.running.has(id) || this.queue.includes(id)) return;
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.deps.config.bulkExportConcurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      const entry: { stop?: StopReason; progress: Progress; done: Promise<void> } = { progress: { count: 0 }, done: Promise.resolve() };
      this.running.set(id, entry);
      entry.done = this.run(id, entry)
        .catch((err: unknown) => this.deps.logger.error({ err, job: id }, 'bulk export failed'))
        .finally(() => {
          this.running.delete(id);
          this.pump();
        });
    }
  }

  private async run(id: string, entry: { stop?: StopReason; progress: Progress }): Promise<void> {
    if (!(await this.jobs.claim(id, this.instance, LEASE_MS))) return;
    try {
      const job = await this.jobs.get(id);
      if (!job || job.status === 'completed') return;
      job.attempts++;
      job.status = 'running';
      if (job.attempts > MAX_ATTEMPTS) {
        job.errors.push(errorOutcome('exception', `The export was interrupted ${MAX_ATTEMPTS} times and was not resumed again; the files listed are complete`));
        await this.finish(job);
        return;
      }
      await this.jobs.put(job);
      await this.execute(job, entry);
    } finally {
      await this.jobs.release(id).catch(() => undefined);
    }
  }

  private async execute(job: ExportJob, entry: { stop?: StopReason; progress: Progress }): Promise<void> {
    const { config } = this.deps;
    const [tenant = '', name = ''] = job.owner.project.split('/');
    const project = await this.deps.projects.find(tenant, name);
    const baseUrl = fhirBaseUrl(config.publicUrl, tenant, name);
    if (!project) {
      await this.jobs.delete(job.id);
      return;
    }
    const { owner } = job;
    const repo = await this.deps.access.repository(
      owner.project,
      { project: owner.project, clientId: owner.clientId, userId: owner.userId, membershipId: owner.membershipId, scopes: owner.scopes },
      new ScopeGate(owner.scopes, owner.patient, baseUrl),
      { clientId: owner.clientId, ...(owner.userId ? { userId: owner.userId } : {}), ...(owner.patient ? { patient: owner.patient } : {}) },
    );
    let beat = Date.now();
    try {
      await runExport(
        {
          repo,
          context: { project, baseUrl, config },
          files: this.files,
          pageSize: Math.min(PAGE_SIZE, config.pageSizeMax),
          save: async (current) => {
            entry.progress = { count: 0 };
            if (await this.jobs.get(current.id)) await this.jobs.put(current);
          },
          checkpoint: async (current, progress) => {
            entry.progress = progress;
            if (entry.stop) throw new ExportCancelledError();
            if (Date.now() - beat < HEARTBEAT_MS) return;
            beat = Date.now();
            // Cancelled through another instance: the record is gone.
            if (!(await this.jobs.get(current.id))) throw new ExportCancelledError();
            await this.jobs.renew(current.id, this.instance, LEASE_MS);
          },
        },
        job,
      );
    } catch (err) {
      if (err instanceof ExportCancelledError) {
        // Shutting down: the job stays unfinished and resumes at the next start. Cancelled: nothing remains.
        if (entry.stop !== 'shutdown') await this.files.remove(job.id);
        else if (await this.jobs.get(job.id)) await this.jobs.put({ ...job, attempts: job.attempts - 1 });
        return;
      }
      this.deps.logger.error({ err, job: job.id }, 'bulk export stopped by an error');
      job.errors.push(errorOutcome('exception', 'The export stopped because of a server error; the files listed are complete'));
    }
    await this.finish(job);
  }

  private async finish(job: ExportJob): Promise<void> {
    if (!(await this.jobs.get(job.id))) return;
    if (job.errors.length > 0) {
      const writer = await this.files.create(job.id, ERROR_FILE);
      for (const line of job.errors) await writer.write(line);
      await writer.close();
    }
    job.status = 'completed';
    job.completedAt = new Date().toISOString();
    await this.jobs.put(job, this.expiresAt(job));
  }

  /**
   * When a finished job's files expire.
   * @param job - the job
   * @returns the instant
   */
  expiresAt(job: ExportJob): string {
    return new Date(Date.parse(job.completedAt ?? job.createdAt) + this.deps.config.bulkExportRetentionSeconds * 1000).toISOString();
  }
}
