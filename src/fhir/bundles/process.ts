/**
 * Batch and transaction processing (https://hl7.org/fhir/R4/http.html#transaction).
 *
 * Both run every entry through `dispatch()` exactly as if it had been sent on its own, in the processing order
 * of the spec (DELETE, POST, PUT/PATCH, GET/HEAD; Bundle order within a group), and answer with one response
 * entry per request entry, in request order.
 *
 * - batch: entries succeed or fail independently; a failed entry answers its status and an OperationOutcome.
 * - transaction: all or nothing. Entries run against the repository's transaction view (later entries see earlier
 *   writes); ids are assigned up front so `urn:uuid:` references can be rewritten; conditional references are
 *   resolved; the staged writes are then stored in one atomic `write()`. Any failure answers the failing
 *   entry's status with an OperationOutcome naming the entry, and nothing is stored.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Bundle, BundleEntry, BundleEntryResponse, OperationOutcome } from 'fhir/r4';
import { isResourceType } from '../definitions';
import { FhirError } from '../errors';
import { operationOutcome } from '../outcomes';
import { conditionalUpdateTarget, MultipleMatchesError, parseCriteriaHeader } from '../rest/conditional';
import { dispatch } from '../rest/dispatch';
import type { FhirContext, FhirRequest } from '../rest/fhir-request';
import { type FhirResponse, responseBody } from '../rest/respond';
import { matchResources } from '../search/match';
import { type BundleRequestEntry, type EntryProblem, parseBundle, processingGroup } from './entries';
import { conditionalReferences, isPlaceholder, replaceStrings, resolveConditionalReference } from './references';

/** The failure of one transaction entry, reported for the whole transaction with the entry named. */
export class TransactionEntryError extends FhirError {
  constructor(index: number, method: string | undefined, cause: FhirError) {
    const at = `Bundle.entry[${index}]`;
    super(
      cause.status,
      cause.issues.map((issue) => ({
        ...issue,
        diagnostics: `${at}${method ? ` (${method})` : ''}: ${issue.diagnostics}`,
        expression: issue.expression?.some((e) => e.startsWith(at)) ? issue.expression : [at, ...(issue.expression ?? [])],
      })),
      { cause },
    );
  }
}

/**
 * Processes a POSTed batch or transaction Bundle.
 * @param ctx - the project context
 * @param body - the Bundle
 * @param prefer - the request's `Prefer` header (applies to every entry)
 * @returns the batch-response or transaction-response Bundle
 */
export async function processBundle(ctx: FhirContext, body: unknown, prefer: string | undefined): Promise<Bundle> {
  const parsed = parseBundle(body, { baseUrl: ctx.baseUrl, maxEntries: ctx.config.bundleMaxEntries, prefer });
  const entries =
    parsed.type === 'transaction' ? await processTransaction(ctx, parsed.entries, prefer) : await processBatch(ctx, parsed.entries, prefer);
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: parsed.type === 'transaction' ? 'transaction-response' : 'batch-response',
    timestamp: new Date().toISOString(),
    link: [{ relation: 'self', url: ctx.baseUrl }],
    entry: entries,
  };
}

const isProblem = (entry: BundleRequestEntry | EntryProblem): entry is EntryProblem => 'error' in entry;

function inProcessingOrder<T extends BundleRequestEntry | EntryProblem>(entries: T[]): T[] {
  const group = (entry: T): number => (isProblem(entry) ? -1 : processingGroup(entry.request.method));
  return [...entries].sort((a, b) => group(a) - group(b) || a.index - b.index);
}

async function processBatch(ctx: FhirContext, entries: Array<BundleRequestEntry | EntryProblem>, prefer: string | undefined): Promise<BundleEntry[]> {
  const responses: BundleEntry[] = new Array<BundleEntry>(entries.length);
  for (const entry of inProcessingOrder(entries)) {
    if (isProblem(entry)) {
      responses[entry.index] = errorEntry(entry.error);
      continue;
    }
    try {
      await ctx.budget.breathe();
      ctx.budget.checkRoom();
      const request = await withConditionalReferences(ctx, entry.request);
      responses[entry.index] = responseEntry(ctx, await dispatch(ctx, request, { bundleEntry: true }), prefer);
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      responses[entry.index] = errorEntry(err);
    }
  }
  return responses;
}

async function processTransaction(
  ctx: FhirContext,
  entries: Array<BundleRequestEntry | EntryProblem>,
  prefer: string | undefined,
): Promise<BundleEntry[]> {
  const problem = entries.find(isProblem);
  if (problem) throw new TransactionEntryError(problem.index, undefined, problem.error);
  const requests = inProcessingOrder(entries as BundleRequestEntry[]);
  const staged = ctx.repo.transaction();
  const tx: FhirContext = { ...ctx, repo: staged.repo };

  const placeholders = new Map<string, string>();
  for (const entry of requests) {
    await atEntry(entry, async () => {
      const target = await assignIdentity(tx, entry.request);
      if (target && isPlaceholder(entry.fullUrl)) placeholders.set(entry.fullUrl, target);
    });
  }
  for (const entry of requests) {
    await atEntry(entry, async () => {
      entry.request = await withConditionalReferences(tx, rewritePlaceholders(entry.request, placeholders));
    });
  }
  const responses: BundleEntry[] = new Array<BundleEntry>(entries.length);
  for (const entry of requests) {
    responses[entry.index] = await atEntry(entry, async () => {
      tx.budget.checkRoom();
      return responseEntry(tx, await dispatch(tx, entry.request, { bundleEntry: true }), prefer);
    });
  }
  await staged.commit();
  return responses;
}

async function atEntry<T>(entry: BundleRequestEntry, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof FhirError) throw new TransactionEntryError(entry.index, `${entry.request.method} ${entry.request.path.join('/')}`, err);
    throw err;
  }
}

/**
 * Decides up front which resource a create or update entry writes, so references to its fullUrl can be
 * rewritten before anything runs: a POST gets a new id (or, with `If-None-Exist`, the existing match's); a PUT
 * writes the id in its URL, or for `PUT Type?criteria` the match, the body id, or a new id.
 * @returns `Type/id`, or undefined for entries that name no resource
 */
async function assignIdentity(tx: FhirContext, request: FhirRequest): Promise<string | undefined> {
  const [type, id] = request.path;
  if (type === undefined || !isResourceType(type)) return undefined;
  if (request.method === 'POST' && request.path.length === 1) {
    if (request.headers.ifNoneExist !== undefined) {
      const matches = await matchResources(tx, type, parseCriteriaHeader(request.headers.ifNoneExist), { limit: 2 });
      if (matches.length > 1) throw new MultipleMatchesError(type);
      if (matches[0]) return `${type}/${matches[0].id}`;
    }
    request.assignedId = randomUUID();
    return `${type}/${request.assignedId}`;
  }
  if (request.method === 'PUT' && request.path.length === 2) return `${type}/${id}`;
  if (request.method === 'PUT' && request.path.length === 1 && typeof request.body === 'object' && request.body !== null) {
    const target = await conditionalUpdateTarget(tx, type, request.body as Record<string, unknown>, request.query);
    if (target !== undefined) return `${type}/${target}`;
    request.assignedId = randomUUID();
    return `${type}/${request.assignedId}`;
  }
  return undefined;
}

function rewritePlaceholders(request: FhirRequest, placeholders: ReadonlyMap<string, string>): FhirRequest {
  if (placeholders.size === 0) return request;
  return {
    ...request,
    body: replaceStrings(request.body, placeholders),
    query: request.query.map(([name, value]) => [name, placeholders.get(value) ?? value]),
  };
}

async function withConditionalReferences(ctx: FhirContext, request: FhirRequest): Promise<FhirRequest> {
  if (request.method !== 'POST' && request.method !== 'PUT') return request;
  const references = conditionalReferences(request.body);
  if (references.size === 0) return request;
  const resolved = new Map<string, string>();
  for (const reference of references) resolved.set(reference, await resolveConditionalReference(ctx, reference));
  return { ...request, body: replaceStrings(request.body, resolved) };
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

function responseEntry(ctx: FhirContext, result: FhirResponse, prefer: string | undefined): BundleEntry {
  const headers = result.headers ?? {};
  const response: BundleEntryResponse = { status: statusLine(result.status) };
  if (headers.Location) response.location = headers.Location;
  if (headers.ETag) response.etag = headers.ETag;
  if (headers['Last-Modified']) response.lastModified = new Date(headers['Last-Modified']).toISOString();
  const body = result.status === 304 ? undefined : responseBody(result, prefer);
  const entry: BundleEntry = { response };
  if (body?.resourceType === 'OperationOutcome' && result.write) {
    response.outcome = body as unknown as OperationOutcome;
  } else if (body) {
    const meta = body.meta as { lastUpdated?: string } | undefined;
    if (meta?.lastUpdated && response.etag) response.lastModified = meta.lastUpdated;
    if (typeof body.id === 'string' && body.resourceType !== 'Bundle') entry.fullUrl = `${ctx.baseUrl}/${String(body.resourceType)}/${body.id}`;
    // Serialized now, within the request's budget: the batch holds text, not every entry's objects.
    entry.resource = ctx.budget.serialize(body) as unknown as BundleEntry['resource'];
  }
  return entry;
}

function errorEntry(err: FhirError): BundleEntry {
  return { response: { status: statusLine(err.status), outcome: operationOutcome(err.issues) } };
}
