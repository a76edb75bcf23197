/**
 * Instance and type interactions: read, vread, create, update, patch, delete.
 * https://hl7.org/fhir/R4/http.html — create → 201 + Location/ETag/Last-Modified; read → 200 + ETag;
 * update of an unknown id creates it (201); delete → 204, and a later read → 410. Conditional read
 * (`If-None-Match`, `If-Modified-Since` → 304) and conditional create (`If-None-Exist`) are in conditional.ts.
 */
import type { WriteResult } from '../repository/repository';
import { conditionalCreate, notModified } from './conditional';
import { idParam, resourceBody, resourceTypeParam, type RouteParams } from './context';
import type { FhirContext, FhirRequest } from './fhir-request';
import { type FhirResponse, versionHeaders } from './respond';

function writeResponse(ctx: FhirContext, type: string, result: WriteResult, verb: string): FhirResponse {
  const id = result.resource.id as string;
  const headers = versionHeaders(result.versionId, result.lastUpdated);
  if (result.created) headers.Location = `${ctx.baseUrl}/${type}/${id}/_history/${result.versionId}`;
  return {
    status: result.created ? 201 : 200,
    body: result.resource,
    headers,
    write: { outcome: `${verb} ${type}/${id} (version ${result.versionId})` },
  };
}

/** `GET [base]/[type]/[id]` */
export async function readHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const doc = await ctx.repo.read(resourceTypeParam(params), idParam(params));
  return notModified(req, doc) ?? { status: 200, body: doc.resource, headers: versionHeaders(doc.versionId, doc.lastUpdated) };
}

/** `GET [base]/[type]/[id]/_history/[vid]` */
export async function vreadHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const doc = await ctx.repo.vread(resourceTypeParam(params), idParam(params), params.vid ?? '');
  return notModified(req, doc) ?? { status: 200, body: doc.resource, headers: versionHeaders(doc.versionId, doc.lastUpdated) };
}

/** `POST [base]/[type]` */
export async function createHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const body = resourceBody(req, type);
  if (req.headers.ifNoneExist !== undefined) {
    const existing = await conditionalCreate(ctx, type, req.headers.ifNoneExist);
    if (existing) return existing;
  }
  const result = await ctx.repo.create(body, req.assignedId);
  return writeResponse(ctx, type, result, 'Created');
}

/** `PUT [base]/[type]/[id]` */
export async function updateHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const id = idParam(params);
  const result = await ctx.repo.update(type, id, resourceBody(req, type), { ifMatch: req.headers.ifMatch });
  return writeResponse(ctx, type, result, result.created ? 'Created' : 'Updated');
}

/** `PATCH [base]/[type]/[id]` with a JSON Patch body */
export async function patchHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const result = await ctx.repo.patch(type, idParam(params), req.body, { ifMatch: req.headers.ifMatch });
  return writeResponse(ctx, type, result, 'Patched');
}

/** `DELETE [base]/[type]/[id]` */
export async function deleteHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  const id = idParam(params);
  const { versionId } = await ctx.repo.delete(type, id, { ifMatch: req.headers.ifMatch });
  const outcome = versionId ? `Deleted ${type}/${id}` : `${type}/${id} was already deleted`;
  const wantsOutcome = /return=OperationOutcome/i.test(req.headers.prefer ?? '');
  return {
    status: wantsOutcome ? 200 : 204,
    headers: versionId ? { ETag: `W/"${versionId}"` } : {},
    write: { outcome },
  };
}
