/**
 * Instance and type interactions: read, vread, create, update, patch, delete.
 * https://hl7.org/fhir/R4/http.html — create → 201 + Location/ETag/Last-Modified; read → 200 + ETag;
 * update of an unknown id creates it (201); delete → 204, and a later read → 410.
 */
import type { Request } from 'express';
import type { WriteResult } from '../repository/repository';
import { idParam, resourceBody, resourceTypeParam } from './context';
import { type FhirResponse, versionHeaders } from './respond';

function writeResponse(req: Request, type: string, result: WriteResult, verb: string): FhirResponse {
  const id = result.resource.id as string;
  const headers = versionHeaders(result.versionId, result.lastUpdated);
  if (result.created) headers.Location = `${req.fhir.baseUrl}/${type}/${id}/_history/${result.versionId}`;
  return {
    status: result.created ? 201 : 200,
    body: result.resource,
    headers,
    write: { outcome: `${verb} ${type}/${id} (version ${result.versionId})` },
  };
}

function ifMatch(req: Request): string | undefined {
  return req.get('if-match');
}

/** `GET [base]/[type]/[id]` */
export async function readHandler(req: Request): Promise<FhirResponse> {
  const doc = await req.fhir.repo.read(resourceTypeParam(req), idParam(req));
  return { status: 200, body: doc.resource, headers: versionHeaders(doc.versionId, doc.lastUpdated) };
}

/** `GET [base]/[type]/[id]/_history/[vid]` */
export async function vreadHandler(req: Request): Promise<FhirResponse> {
  const doc = await req.fhir.repo.vread(resourceTypeParam(req), idParam(req), String(req.params.vid));
  return { status: 200, body: doc.resource, headers: versionHeaders(doc.versionId, doc.lastUpdated) };
}

/** `POST [base]/[type]` */
export async function createHandler(req: Request): Promise<FhirResponse> {
  const type = resourceTypeParam(req);
  const result = await req.fhir.repo.create(resourceBody(req, type) as Parameters<typeof req.fhir.repo.create>[0]);
  return writeResponse(req, type, result, 'Created');
}

/** `PUT [base]/[type]/[id]` */
export async function updateHandler(req: Request): Promise<FhirResponse> {
  const type = resourceTypeParam(req);
  const id = idParam(req);
  const body = resourceBody(req, type);
  const result = await req.fhir.repo.update(type, id, body, { ifMatch: ifMatch(req) });
  return writeResponse(req, type, result, result.created ? 'Created' : 'Updated');
}

/** `PATCH [base]/[type]/[id]` with a JSON Patch body */
export async function patchHandler(req: Request): Promise<FhirResponse> {
  const type = resourceTypeParam(req);
  const result = await req.fhir.repo.patch(type, idParam(req), req.body, { ifMatch: ifMatch(req) });
  return writeResponse(req, type, result, 'Patched');
}

/** `DELETE [base]/[type]/[id]` */
export async function deleteHandler(req: Request): Promise<FhirResponse> {
  const type = resourceTypeParam(req);
  const id = idParam(req);
  const { versionId } = await req.fhir.repo.delete(type, id, { ifMatch: ifMatch(req) });
  const outcome = versionId ? `Deleted ${type}/${id}` : `${type}/${id} was already deleted`;
  const wantsOutcome = /return=OperationOutcome/i.test(req.get('prefer') ?? '');
  return {
    status: wantsOutcome ? 200 : 204,
    headers: versionId ? { ETag: `W/"${versionId}"` } : {},
    write: { outcome },
  };
}
