/**
 * Bulk Data export jobs (src/fhir/bulk, docs/bulk-export.md) as records of the record store (kind
 * `bulk-export-job`), so that every instance sharing the store sees them and a job outlives the process that started
 * it. Job state is not FHIR data: it lives here, outside src/fhir, whose modules reach the store only through the
 * access layer (test/architecture/access-boundary.test.ts). A job holds who started it (the token's client, user,
 * scopes and patient: the export is judged as that token's searches), what was asked, and its progress: the
 * files finished so far and the type being written. A finished job's record expires with its files.
 */
import type { OperationOutcome } from 'fhir/r4';
import type { RecordStore, StoredRecord } from '../storage/ports';

/** Where the export starts from (the kick-off parameters are checked by src/fhir/bulk/export-request.ts). */
export type ExportLevel = 'system' | 'patient' | 'group';

/** One `_typeFilter`: a search of one type. */
export interface TypeFilter {
  type: string;
  query: Array<[string, string]>;
}

/** A checked kick-off request. */
export interface ExportRequest {
  level: ExportLevel;
  /** The Group of a group-level export. */
  groupId?: string;
  /** `_type`: the types asked for (undefined: every type the level covers). */
  types?: string[];
  /** `_since`, as given (an instant). */
  since?: string;
  typeFilters: TypeFilter[];
  /** `patient`: the ids of the patients to export (patient and group level). */
  patients?: string[];
  /** Parameters ignored under `Prefer: handling=lenient`, reported in the manifest's error file. */
  ignored: string[];
}

/** The record kind of jobs. */
export const JOB_KIND = 'bulk-export-job';
/** The record that says which process runs a job (renewed while it runs). */
export const LEASE_KIND = 'bulk-export-lease';

/** Where a job is. */
export type JobStatus = 'queued' | 'running' | 'completed';

/** One finished output file of a job. */
export interface ExportFile {
  type: string;
  /** The file name within the job's directory. */
  name: string;
  count: number;
}

/** Who started a job: what the worker needs to judge its searches as that token's. */
export interface JobOwner {
  project: string;
  clientId: string;
  userId?: string;
  membershipId?: string;
  role?: string;
  fhirUser?: string;
  patient?: string;
  scopes: string[];
}

/** A stored job. */
export interface ExportJob {
  id: string;
  owner: JobOwner;
  /** The kick-off URL as the client sent it. */
  request: string;
  params: ExportRequest;
  status: JobStatus;
  /** The instant the export reflects (`transactionTime`). */
  transactionTime: string;
  /** The types to write, in order (fixed when the job starts running). */
  types?: string[];
  /** Index in `types` of the type being written. */
  typeIndex: number;
  files: ExportFile[];
  /** The error lines so far (one per refused or failed type, ignored parameter, failure). */
  errors: OperationOutcome[];
  /** Resources written by the finished types. */
  exported: number;
  /** How many times a process started (or resumed) the job. */
  attempts: number;
  createdAt: string;
  completedAt?: string;
  /** Set when the job could not finish: the manifest's error file says why. */
  failure?: string;
}

/** The typed view of the job records. */
export class ExportJobs {
  /** @param records - the record store */
  constructor(private readonly records: RecordStore) {}

  /**
   * A job by id.
   * @param id - the job id
   * @returns the job, or undefined (unknown, cancelled or expired)
   */
  async get(id: string): Promise<ExportJob | undefined> {
    const record = await this.records.get(JOB_KIND, id);
    return record?.value as unknown as ExportJob | undefined;
  }

  /**
   * Stores a job.
   * @param job - the job
   * @param expiresAt - when the record (and the job's files) expire; none while it runs
   */
  async put(job: ExportJob, expiresAt?: string): Promise<void> {
    const record: StoredRecord = { kind: JOB_KIND, key: job.id, value: job as unknown as Record<string, unknown> };
    if (expiresAt !== undefined) record.expiresAt = expiresAt;
    await this.records.put(record);
  }

  /** Deletes a job record. */
  async delete(id: string): Promise<void> {
    await this.records.delete(JOB_KIND, id);
    await this.records.delete(LEASE_KIND, id);
  }

  /**
   * The unfinished jobs of one client (and user) in a project.
   * @param owner - the client and user
   * @returns the jobs
   */
  async unfinishedOf(owner: Pick<JobOwner, 'project' | 'clientId' | 'userId'>): Promise<ExportJob[]> {
    const records = await this.records.find(JOB_KIND, {
      'owner.project': owner.project,
      'owner.clientId': owner.clientId,
      status: { $in: ['queued', 'running'] },
    });
    return records.map((r) => r.value as unknown as ExportJob).filter((job) => job.owner.userId === owner.userId);
  }

  /** Every unfinished job (to resume). */
  async unfinished(): Promise<ExportJob[]> {
    const records = await this.records.find(JOB_KIND, { status: { $in: ['queued', 'running'] } });
    return records.map((r) => r.value as unknown as ExportJob);
  }

  /** Every job id with a live record (the sweep deletes the directories of the others). */
  async liveIds(): Promise<Set<string>> {
    return new Set((await this.records.find(JOB_KIND)).map((r) => r.key));
  }

  /**
   * Claims a job for this process for a while (no other process runs it meanwhile).
   * @param id - the job id
   * @param instance - this process
   * @param ms - how long the claim lasts unless renewed
   * @returns true when claimed
   */
  async claim(id: string, instance: string, ms: number): Promise<boolean> {
    return this.records.insert({ kind: LEASE_KIND, key: id, value: { instance }, expiresAt: new Date(Date.now() + ms).toISOString() });
  }

  /** Extends this process's claim. */
  async renew(id: string, instance: string, ms: number): Promise<void> {
    await this.records.put({ kind: LEASE_KIND, key: id, value: { instance }, expiresAt: new Date(Date.now() + ms).toISOString() });
  }

  /** Releases a claim. */
  async release(id: string): Promise<void> {
    await this.records.delete(LEASE_KIND, id);
  }
}
