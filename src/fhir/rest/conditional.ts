/**
 * Conditional interactions (https://hl7.org/fhir/R4/http.html#cond-update and following):
 * - create with `If-None-Exist: [params]`: no match → create (201); one → 200 with the existing resource,
 *   nothing written; several → 412;
 * - `PUT [type]?[params]`: no match → create (with the body's id if given and free — a body id naming an
 *   existing resource that does not match is a 409, as R5 clarifies; else a new id); one match → update it
 *   (a body id must equal the match's id); several → 412. Only resources the caller may see match; a body id
 *   naming a resource the caller may not read is answered as for a free id (the write is then judged as a create
 *   of the body, see the access-controlled repository), so the answer never tells that the id is taken;
 * - `DELETE [type]?[params]`: no match → 204 (nothing to delete); one → delete; several → 412;
 * - conditional read: `If-None-Match` with the current ETag (or `*`) → 304, else `If-Modified-Since` not older
 *   than lastUpdated (compared at the one-second precision of HTTP dates) → 304.
 * Criteria are strict: an unknown parameter is a 400 (a condition must never widen by ignoring a criterion),
 * and at least one criterion is required. Two concurrent conditional creates may both create (the check and the
 * write are not one atomic step); unique fields such as `User.email` are protected by the store instead.
 */
import type { ResourceDocument } from '../../storage/ports';
import { BadRequestError, ConflictError, FhirError } from '../errors';
import { isValidId, type Resource } from '../repository/repository';
import { matchResources } from '../search/match';
import { resourceBody, resourceTypeParam, type RouteParams } from './context';
import type { FhirContext, FhirRequest } from './fhir-request';
import { type FhirResponse, versionHeaders } from './respond';

/** 412 for a condition that matches more than one resource. */
export class MultipleMatchesError extends FhirError {
  constructor(type: string) {
    super(412, { code: 'multiple-matches', diagnostics: `The search criteria match more than one ${type}` });
  }
}

/**
 * The criteria of an `If-None-Exist` header (`identifier=x`, `?identifier=x` or `Patient?identifier=x`).
 * @param header - the header value
 * @returns name/value pairs
 */
export function parseCriteriaHeader(header: string): Array<[string, string]> {
  const question = header.indexOf('?');
  const text = question >= 0 ? header.slice(question + 1) : header;
  return [...new URLSearchParams(text.trim()).entries()];
}

async function findMatches(ctx: FhirContext, type: string, criteria: Array<[string, string]>): Promise<ResourceDocument[]> {
  const matches = await matchResources(ctx, type, criteria, { limit: 2 });
  if (matches.length > 1) throw new MultipleMatchesError(type);
  return matches;
}

/**
 * Conditional create: the existing match, if any.
 * @param ctx - the project context
 * @param type - the resource type
 * @param header - the `If-None-Exist` value
 * @returns a 200 response with the existing resource, or undefined when nothing matches (create it)
 */
export async function conditionalCreate(ctx: FhirContext, type: string, header: string): Promise<FhirResponse | undefined> {
  const [existing] = await findMatches(ctx, type, parseCriteriaHeader(header));
  if (!existing?.resource) return undefined;
  return {
    status: 200,
    body: existing.resource,
    headers: versionHeaders(existing.versionId, existing.lastUpdated),
    write: { outcome: `${type}/${existing.id} already matches If-None-Exist; nothing was created` },
  };
}

/**
 * The id a conditional update writes: the single match's, else the body's id when it is free.
 * @param ctx - the project context
 * @param type - the resource type
 * @param body - the new content
 * @param criteria - the search parameters
 * @returns the id to update or create, or undefined to create with a new id
 * @throws MultipleMatchesError, BadRequestError (body id differs from the match), ConflictError (body id taken)
 */
export async function conditionalUpdateTarget(
  ctx: FhirContext,
  type: string,
  body: Record<string, unknown>,
  criteria: Array<[string, string]>,
): Promise<string | undefined> {
  const [match] = await findMatches(ctx, type, criteria);
  if (match) {
    if (body.id !== undefined && body.id !== match.id) {
      throw new BadRequestError(`Resource id '${String(body.id)}' does not match the resource found by the criteria (${match.id})`, [`${type}.id`]);
    }
    return match.id;
  }
  if (body.id === undefined) return undefined;
  if (typeof body.id !== 'string' || !isValidId(body.id)) throw new BadRequestError(`'${String(body.id)}' is not a valid FHIR id`, [`${type}.id`]);
  if ((await ctx.repo.idStatus(type, body.id)) === 'visible') throw new ConflictError(`${type}/${body.id} exists but does not match the criteria`, [`${type}.id`]);
  return body.id;
}

/** `PUT [base]/[type]?params` */
export async function conditionalUpdateHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const body = resourceBody(req, type);
  const id = await conditionalUpdateTarget(ctx, type, body, req.query);
  if (id === undefined) {
    const result = await ctx.repo.create(body, req.assignedId);
    return writeResponse(ctx, type, result.resource, result.versionId, result.lastUpdated, true);
  }
  const result = await ctx.repo.update(type, id, { ...body, id } as Resource, { ifMatch: req.headers.ifMatch });
  return writeResponse(ctx, type, result.resource, result.versionId, result.lastUpdated, result.created);
}

function writeResponse(ctx: FhirContext, type: string, resource: Resource, versionId: string, lastUpdated: string, created: boolean): FhirResponse {
  const id = String(resource.id);
  const headers = versionHeaders(versionId, lastUpdated);
  if (created) headers.Location = `${ctx.baseUrl}/${type}/${id}/_history/${versionId}`;
  return {
    status: created ? 201 : 200,
    body: resource,
    headers,
    write: { outcome: `${created ? 'Created' : 'Updated'} ${type}/${id} (version ${versionId})` },
  };
}

/** `DELETE [base]/[type]?params` */
export async function conditionalDeleteHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const [match] = await findMatches(ctx, type, req.query);
  if (!match) return { status: 204, headers: {}, write: { outcome: `No ${type} matched; nothing was deleted` } };
  const { versionId } = await ctx.repo.delete(type, match.id, { ifMatch: req.headers.ifMatch });
  const wantsOutcome = /return=OperationOutcome/i.test(req.headers.prefer ?? '');
  return {
    status: wantsOutcome ? 200 : 204,
    headers: versionId ? { ETag: `W/"${versionId}"` } : {},
    write: { outcome: `Deleted ${type}/${match.id}` },
  };
}

function etagMatches(header: string, versionId: number): boolean {
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === `"${versionId}"`;
  });
}

/**
 * Conditional read: a 304 when the client's copy is current.
 * @param req - the request (If-None-Match, If-Modified-Since)
 * @param doc - the version that would be returned
 * @returns the 304 response, or undefined to send the resource
 */
export function notModified(req: FhirRequest, doc: Pick<ResourceDocument, 'versionId' | 'lastUpdated'>): FhirResponse | undefined {
  const headers = versionHeaders(doc.versionId, doc.lastUpdated);
  const { ifNoneMatch, ifModifiedSince } = req.headers;
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, doc.versionId) ? { status: 304, headers } : undefined;
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have whole seconds: compare lastUpdated truncated to the second.
    const modified = Math.floor(Date.parse(doc.lastUpdated) / 1000) * 1000;
    if (!Number.isNaN(since) && modified <= since) return { status: 304, headers };
  }
  return undefined;
}
