/**
 * History interactions (https://hl7.org/fhir/R4/http.html#history): instance, type and system level, newest
 * first, with `_count` and `_since`. Paging links carry `_offset` and a `_snapshot` instant fixed by the first
 * page, so versions written while a client pages do not shift the pages it has yet to read.
 */
import type { Bundle, BundleEntry, BundleLink } from 'fhir/r4';
import type { ResourceDocument } from '../../storage/ports';
import type { RequestBudget } from '../budget';
import { BadRequestError } from '../errors';
import { idParam, resourceTypeParam, type RouteParams } from './context';
import { type FhirContext, type FhirRequest, queryValue } from './fhir-request';
import { etag, type FhirResponse } from './respond';

const INSTANT = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

function singleParam(req: FhirRequest, name: string): string | undefined {
  const values = req.query.filter(([key]) => key === name);
  if (values.length > 1) throw new BadRequestError(`Parameter ${name} must appear once`, [name]);
  return queryValue(req, name);
}

function parseInstant(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const date = INSTANT.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new BadRequestError(`Parameter ${name}: '${value}' is not a valid instant`, [name]);
  return date.toISOString();
}

function parseNonNegative(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new BadRequestError(`Parameter ${name}: '${value}' is not a non-negative integer`, [name]);
  return Math.min(Number(value), max);
}

function historyEntry(budget: RequestBudget, base: string, doc: ResourceDocument): BundleEntry {
  const url = `${doc.type}/${doc.id}`;
  const method = doc.method === 'create' ? 'POST' : doc.method === 'delete' ? 'DELETE' : doc.method === 'patch' ? 'PATCH' : 'PUT';
  return {
    fullUrl: `${base}/${url}`,
    ...(doc.resource ? { resource: budget.serialize(doc.resource) as unknown as BundleEntry['resource'] } : {}),
    request: { method, url: method === 'POST' ? doc.type : url },
    response: {
      status: doc.deleted ? '204 No Content' : doc.method === 'create' ? '201 Created' : '200 OK',
      etag: etag(doc.versionId),
      lastModified: doc.lastUpdated,
    },
  };
}

async function historyBundle(ctx: FhirContext, req: FhirRequest, path: string, type?: string, id?: string): Promise<FhirResponse> {
  const { config } = ctx;
  const count = parseNonNegative('_count', singleParam(req, '_count'), config.pageSizeDefault, config.pageSizeMax);
  const offset = parseNonNegative('_offset', singleParam(req, '_offset'), 0, Number.MAX_SAFE_INTEGER);
  const since = parseInstant('_since', singleParam(req, '_since'));
  const snapshot = parseInstant('_snapshot', singleParam(req, '_snapshot')) ?? new Date(Date.now() + 1).toISOString();
  const { entries, total, next } = await ctx.repo.history({ type, id, since, before: snapshot, skip: offset, limit: count });
  const base = ctx.baseUrl;
  const pageUrl = (at: number): string => {
    const params = new URLSearchParams({ _count: String(count) });
    if (since) params.set('_since', since);
    params.set('_snapshot', snapshot);
    params.set('_offset', String(at));
    return `${base}${path}?${params.toString()}`;
  };
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(offset) }];
  if (next !== undefined) link.push({ relation: 'next', url: pageUrl(next) });
  // Offsets count the versions the caller sees (of the snapshot): pages have fixed starts both ways.
  if (count > 0 && offset > 0) link.push({ relation: 'previous', url: pageUrl(Math.max(0, offset - count)) });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    ...(total !== undefined ? { total } : {}),
    link,
    entry: [],
  };
  for (const doc of entries) {
    await ctx.budget.breathe();
    bundle.entry?.push(historyEntry(ctx.budget, base, doc));
  }
  return { status: 200, body: bundle as unknown as Record<string, unknown> };
}

/** `GET [base]/[type]/[id]/_history` */
export async function instanceHistoryHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const id = idParam(params);
  // A deleted resource still has a history; an id never used (or one the caller may not see) is a 404.
  return historyBundle(ctx, req, `/${type}/${id}/_history`, type, id);
}

/** `GET [base]/[type]/_history` */
export async function typeHistoryHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  return historyBundle(ctx, req, `/${type}/_history`, type);
}

/** `GET [base]/_history` */
export async function systemHistoryHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  return historyBundle(ctx, req, '/_history');
}
