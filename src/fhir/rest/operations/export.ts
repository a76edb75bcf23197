/**
 * FHIR Bulk Data Access 2.0 export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html; docs/bulk-export.md):
 * - kick-off `GET|POST [base]/$export`, `[base]/Patient/$export`, `[base]/Group/[id]/$export` with
 *   `Prefer: respond-async` → 202 and `Content-Location` (the status URL); parameters: export-request.ts; a client
 *   (and user) with BULK_EXPORT_MAX_JOBS_PER_CLIENT unfinished jobs → 429 with `Retry-After`;
 * - status `GET [base]/$export-status?job=[id]` → 202 with `X-Progress` and `Retry-After` while the job runs,
 *   200 with the manifest (`application/json`) once it is complete; `DELETE` cancels it and deletes its files (202);
 * - files `GET [base]/$export-file?job=[id]&file=[name]` → `application/fhir+ndjson`.
 * Status, cancel and files answer only a token of the client (and user) that started the job; anyone else gets
 * the 404 of an unknown job. The Group of a group-level export must be one the token may read (404 otherwise).
 */
import type { Group } from 'fhir/r4';
import { describeRequest } from '../../../policy/request';
import type { BulkExports } from '../../bulk/bulk-exports';
import type { ExportJob, JobOwner } from '../../../bulk/export-jobs';
import { type ExportLevel, type ExportRequest, parseExportRequest } from '../../bulk/export-request';
import { ERROR_FILE, typeSearches } from '../../bulk/export-runner';
import { FhirError, ForbiddenError, ResourceNotFoundError, UnauthorizedError } from '../../errors';
import { informationOutcome } from '../../outcomes';
import { executeSearch } from '../../search/execute';
import { idParam, type RouteParams } from '../context';
import type { FhirContext, FhirRequest } from '../fhir-request';
import { queryValue } from '../fhir-request';
import { httpDate, type FhirResponse } from '../respond';

/** Seconds a client is asked to wait between polls of a running job. */
export const POLL_RETRY_AFTER_SECONDS = 1;
/** Seconds a client with too many running jobs is asked to wait. */
const TOO_MANY_RETRY_AFTER_SECONDS = 30;
const MEMBER = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/;

/** 429: the client already runs as many exports as it may. */
export class TooManyExportsError extends FhirError {
  constructor(limit: number) {
    super(429, { code: 'throttled', diagnostics: `This client already has ${limit} unfinished exports; wait for one to complete or cancel one` });
    this.headers['Retry-After'] = String(TOO_MANY_RETRY_AFTER_SECONDS);
  }
}

function service(ctx: FhirContext): BulkExports {
  if (!ctx.bulk) throw new ResourceNotFoundError('Bulk export is not available on this server');
  return ctx.bulk;
}

function ownerOf(ctx: FhirContext): JobOwner {
  const { auth } = ctx;
  if (!auth) throw new UnauthorizedError();
  const owner: JobOwner = { project: ctx.project.key, clientId: auth.clientId, scopes: [...auth.scopes] };
  if (auth.userId !== undefined) owner.userId = auth.userId;
  if (auth.membershipId !== undefined) owner.membershipId = auth.membershipId;
  if (auth.role !== undefined) owner.role = auth.role;
  if (auth.fhirUser !== undefined) owner.fhirUser = auth.fhirUser;
  if (auth.patient !== undefined) owner.patient = auth.patient;
  return owner;
}

function searchContext(ctx: FhirContext): Omit<FhirContext, 'repo' | 'auth'> {
  const { project, baseUrl, config, budget } = ctx;
  return { project, baseUrl, config, budget };
}

/**
 * The patients of a Group the token may read (a Group it may not read is a 404, as a read of it would be).
 * @returns the ids of its active Patient members (those of `patient`, when given, among them)
 */
async function groupPatients(ctx: FhirContext, groupId: string, asked: readonly string[] | undefined): Promise<string[]> {
  const context = searchContext(ctx);
  const line = { method: 'GET', path: ['Group', groupId], query: [] };
  const { resource } = await ctx.repo.forRequest(describeRequest(line), context).read('Group', groupId);
  const members = ((resource as unknown as Group).member ?? [])
    .filter((member) => member.inactive !== true)
    .map((member) => MEMBER.exec(member.entity?.reference ?? '')?.[1])
    .filter((id): id is string => id !== undefined);
  const unique = [...new Set(members)];
  return asked ? unique.filter((id) => asked.includes(id)) : unique;
}

/**
 * Runs each `_typeFilter` once without reading anything, so that a criterion the search engine refuses is a 400
 * of the kick-off rather than an error of the job. A type the token may not search is left to the job to report.
 */
async function checkTypeFilters(ctx: FhirContext, params: ExportRequest): Promise<void> {
  const context = searchContext(ctx);
  for (const type of new Set(params.typeFilters.map((f) => f.type))) {
    for (const search of typeSearches(params, type)) {
      const query: Array<[string, string]> = [...search.query, ['_count', '0'], ['_total', 'none']];
      const line = { method: 'GET', path: [type], query };
      try {
        await executeSearch({ ...context, repo: ctx.repo.forRequest(describeRequest(line), context) }, { types: [type], compartmentPatients: search.compartmentPatients }, query, { strict: true });
      } catch (err) {
        if (err instanceof ForbiddenError) continue;
        if (err instanceof FhirError) err.issues.forEach((issue) => (issue.expression = ['_typeFilter']));
        throw err;
      }
    }
  }
}

function requestUrl(ctx: FhirContext, req: FhirRequest): string {
  const query = new URLSearchParams(req.query).toString();
  return `${ctx.baseUrl}/${req.path.map((s) => encodeURIComponent(s).replace(/%24/g, '$')).join('/')}${query ? `?${query}` : ''}`;
}

function statusUrl(ctx: FhirContext, id: string): string {
  return `${ctx.baseUrl}/$export-status?job=${id}`;
}

function fileUrl(ctx: FhirContext, id: string, name: string): string {
  return `${ctx.baseUrl}/$export-file?job=${id}&file=${encodeURIComponent(name)}`;
}

async function kickOff(ctx: FhirContext, req: FhirRequest, level: ExportLevel, groupId?: string): Promise<FhirResponse> {
  const bulk = service(ctx);
  const owner = ownerOf(ctx);
  const params = parseExportRequest(req, level, groupId);
  if (level === 'group' && groupId !== undefined) params.patients = await groupPatients(ctx, groupId, params.patients);
  await checkTypeFilters(ctx, params);
  const job = await bulk.create(owner, params, requestUrl(ctx, req));
  if (!job) throw new TooManyExportsError(ctx.config.bulkExportMaxJobsPerClient);
  return {
    status: 202,
    headers: { 'Content-Location': statusUrl(ctx, job.id) },
    body: informationOutcome(`Export started; poll ${statusUrl(ctx, job.id)}`) as unknown as Record<string, unknown>,
  };
}

/** `GET|POST [base]/$export` */
export async function exportSystemHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  return kickOff(ctx, req, 'system');
}

/** `GET|POST [base]/Patient/$export` */
export async function exportPatientHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  return kickOff(ctx, req, 'patient');
}

/** `GET|POST [base]/Group/[id]/$export` */
export async function exportGroupHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  return kickOff(ctx, req, 'group', idParam(params));
}

/** The job named by `?job=`, if the caller started it. */
async function ownJob(ctx: FhirContext, req: FhirRequest): Promise<ExportJob> {
  const bulk = service(ctx);
  const owner = ownerOf(ctx);
  const id = queryValue(req, 'job') ?? '';
  const job = /^[0-9a-f-]{36}$/.test(id) ? await bulk.find(id, owner) : undefined;
  if (!job) throw new ResourceNotFoundError(`No export job '${id}' (unknown, cancelled, expired, or started by another client)`);
  return job;
}

/**
 * The manifest of a complete job.
 * @param ctx - the context (base URL)
 * @param job - the job
 * @returns the manifest
 */
export function manifestOf(ctx: FhirContext, job: ExportJob): Record<string, unknown> {
  return {
    transactionTime: job.transactionTime,
    request: job.request,
    requiresAccessToken: true,
    output: job.files.map((file) => ({ type: file.type, url: fileUrl(ctx, job.id, file.name), count: file.count })),
    error: job.errors.length > 0 ? [{ type: 'OperationOutcome', url: fileUrl(ctx, job.id, ERROR_FILE), count: job.errors.length }] : [],
  };
}

/** `GET [base]/$export-status?job=[id]` */
export async function exportStatusHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const job = await ownJob(ctx, req);
  const bulk = service(ctx);
  if (job.status !== 'completed') {
    return { status: 202, headers: { 'X-Progress': bulk.progress(job), 'Retry-After': String(POLL_RETRY_AFTER_SECONDS) } };
  }
  return { status: 200, body: manifestOf(ctx, job), contentType: 'application/json', headers: { Expires: httpDate(bulk.expiresAt(job)) } };
}

/** `DELETE [base]/$export-status?job=[id]` */
export async function exportCancelHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const job = await ownJob(ctx, req);
  await service(ctx).cancel(job);
  return { status: 202, body: informationOutcome(`Export ${job.id} cancelled; its files were deleted`) as unknown as Record<string, unknown> };
}

/** `GET [base]/$export-file?job=[id]&file=[name]` */
export async function exportFileHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const job = await ownJob(ctx, req);
  const name = queryValue(req, 'file') ?? '';
  const known = job.status === 'completed' && (job.files.some((file) => file.name === name) || (name === ERROR_FILE && job.errors.length > 0));
  const bulk = service(ctx);
  const size = known ? await bulk.files.size(job.id, name) : undefined;
  if (size === undefined) throw new ResourceNotFoundError(`No file '${name}' in export ${job.id}`);
  return { status: 200, file: { path: bulk.files.pathOf(job.id, name), size, contentType: 'application/fhir+ndjson' } };
}
