/**
 * Runs one export job: for each type, the token's paged searches (type-pages.ts) written line by line to the type's
 * file; the job record notes each finished type, so a job taken over after a restart starts again at the type it
 * was writing. What the token may not search is never written:
 * - a type the scopes or policies refuse: an error line (OperationOutcome `forbidden`) when the type was asked for
 *   by `_type` or `_typeFilter`; left out silently when the export covers every type;
 * - within a type, exactly the resources the same searches return (each judged like a read).
 */
import type { OperationOutcome } from 'fhir/r4';
import { getPatientCompartmentParams, RESOURCE_TYPES } from '../definitions';
import { FhirError, ForbiddenError } from '../errors';
import type { AccessControlledRepository } from '../access/access-controlled-repository';
import type { ExportJob, ExportRequest } from '../../bulk/export-jobs';
import type { ExportFiles } from './export-files';
import { type PageContext, type TypeSearch, typePages } from './type-pages';

/** The job was cancelled (or its record is gone) while it ran. */
export class ExportCancelledError extends Error {
  constructor() {
    super('The export was cancelled');
    this.name = 'ExportCancelledError';
  }
}

/** What a run needs. */
export interface RunContext {
  repo: AccessControlledRepository;
  context: PageContext;
  files: ExportFiles;
  pageSize: number;
  /** Stores the job's progress. */
  save(job: ExportJob): Promise<void>;
  /** Called between pages: throws {@link ExportCancelledError} when the job must stop. */
  checkpoint(job: ExportJob, current: { type: string; count: number }): Promise<void>;
}

/** The name of the error file. */
export const ERROR_FILE = 'OperationOutcome.ndjson';

/** Types in the Patient compartment (the Patient itself included). */
function compartmentTypes(): string[] {
  return [...RESOURCE_TYPES].filter((type) => type === 'Patient' || getPatientCompartmentParams(type).length > 0);
}

/**
 * The types an export writes, in order.
 * @param job - the job
 * @returns the types
 */
export function exportTypes(job: ExportJob): string[] {
  const { params } = job;
  if (params.types) return params.types;
  const filtered = [...new Set(params.typeFilters.map((f) => f.type))];
  const all = params.level === 'system' ? [...RESOURCE_TYPES] : compartmentTypes();
  return [...filtered, ...all.filter((type) => !filtered.includes(type))];
}

/**
 * The searches of one type: one per `_typeFilter` of the type (their union is exported), or one for every
 * resource of the type.
 * @param params - the job's parameters
 * @param type - the type
 * @returns the searches
 */
export function typeSearches(params: ExportRequest, type: string): TypeSearch[] {
  const since: Array<[string, string]> = params.since ? [['_lastUpdated', `gt${params.since}`]] : [];
  const compartment = params.level === 'system' ? undefined : (params.patients ?? 'any');
  const filters = params.typeFilters.filter((f) => f.type === type);
  const queries = filters.length > 0 ? filters.map((f) => f.query) : [[]];
  return queries.map((query) => ({ type, query: [...query, ...since], ...(compartment !== undefined ? { compartmentPatients: compartment } : {}) }));
}

/** Whether the job named a type itself (then a refusal is reported). */
function asked(job: ExportJob, type: string): boolean {
  return (job.params.types?.includes(type) ?? false) || job.params.typeFilters.some((f) => f.type === type);
}

/** An error line. */
export function errorOutcome(code: 'forbidden' | 'processing' | 'not-supported' | 'exception' | 'invalid', diagnostics: string, type?: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics, ...(type ? { expression: [type] } : {}) }],
  };
}

/**
 * Writes one type.
 * @returns the number written (0: no file is kept)
 */
async function writeType(run: RunContext, job: ExportJob, type: string): Promise<number> {
  const searches = typeSearches(job.params, type);
  const writer = await run.files.create(job.id, `${type}.ndjson`);
  // Several `_typeFilter`s of one type: a resource two of them match is written once.
  const seen = searches.length > 1 ? new Set<string>() : undefined;
  try {
    for (const search of searches) {
      for await (const resources of typePages(run.repo, run.context, search, run.pageSize)) {
        for (const resource of resources) {
          const id = String(resource.id);
          if (seen?.has(id)) continue;
          seen?.add(id);
          await writer.write(resource);
        }
        await run.checkpoint(job, { type, count: writer.count });
      }
    }
    await writer.close();
  } catch (err) {
    writer.destroy();
    throw err;
  }
  return writer.count;
}

/**
 * Runs a job from the type it stopped at to the end.
 * @param run - the repository, files and persistence
 * @param job - the job (updated in place and saved after each type)
 */
export async function runExport(run: RunContext, job: ExportJob): Promise<void> {
  job.types ??= exportTypes(job);
  while (job.typeIndex < job.types.length) {
    const type = job.types[job.typeIndex] as string;
    let count = 0;
    try {
      count = await writeType(run, job, type);
    } catch (err) {
      if (err instanceof ExportCancelledError || !(err instanceof FhirError) || err.status >= 500) throw err;
      // A type the token may not search: reported when the client asked for it, otherwise simply not exported.
      if (!(err instanceof ForbiddenError) || asked(job, type)) {
        job.errors.push(errorOutcome(err instanceof ForbiddenError ? 'forbidden' : 'processing', `${type}: ${err.message}`, type));
      }
    }
    if (count > 0) job.files.push({ type, name: `${type}.ndjson`, count });
    else await run.files.removeFile(job.id, `${type}.ndjson`);
    job.exported += count;
    job.typeIndex++;
    await run.save(job);
  }
}
