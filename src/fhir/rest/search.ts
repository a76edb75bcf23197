/**
 * Search interactions (https://hl7.org/fhir/R4/http.html#search, search.html):
 * - `GET [base]/[type]?...` and `POST [base]/[type]/_search` (form body; its parameters follow the URL's);
 * - `GET [base]?_type=A,B&...` and `POST [base]/_search` (system search; without `_type`, every type);
 * - `GET [base]/Patient/[id]/[type]` and `GET [base]/Patient/[id]/*` (Patient compartment).
 * Unknown parameters are ignored and reported in an `outcome` entry, or answered with 400 under
 * `Prefer: handling=strict`.
 */
import { getPatientCompartmentParams, RESOURCE_TYPES } from '../definitions';
import { BadRequestError } from '../errors';
import { searchBundle } from '../search/bundle';
import { executeSearch, type SearchScope } from '../search/execute';
import { isStrictHandling } from '../search/parse-request';
import { idParam, resourceTypeParam, type RouteParams } from './context';
import type { FhirContext, FhirRequest } from './fhir-request';
import type { FhirResponse } from './respond';

/**
 * The parameters of a form-encoded body: as parsed by `express.urlencoded({ extended: false })` (an object), or
 * the raw `a=1&b=2` text (e.g. from a Bundle entry).
 * @param body - the body
 * @returns name/value pairs
 */
export function formParameters(body: unknown): Array<[string, string]> {
  if (body === undefined || body === null) return [];
  if (typeof body === 'string') return [...new URLSearchParams(body).entries()];
  if (typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('The _search body must be application/x-www-form-urlencoded');
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string') pairs.push([name, item]);
  }
  return pairs;
}

async function search(ctx: FhirContext, req: FhirRequest, scope: SearchScope, path: string, query: Array<[string, string]>): Promise<FhirResponse> {
  const result = await executeSearch(ctx, scope, query, { strict: isStrictHandling(req.headers.prefer) });
  return { status: 200, body: (await searchBundle(ctx, path, query, result)) as unknown as Record<string, unknown> };
}

/** `GET [base]/[type]?params` */
export async function searchTypeHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  return search(ctx, req, { types: [type] }, `/${type}`, req.query);
}

/** `POST [base]/[type]/_search` */
export async function searchTypePostHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const type = resourceTypeParam(params);
  return search(ctx, req, { types: [type] }, `/${type}`, [...req.query, ...formParameters(req.body)]);
}

/** `GET [base]?_type=...&params` */
export async function searchSystemHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  return search(ctx, req, { types: [...RESOURCE_TYPES], system: true }, '', req.query);
}

/** `POST [base]/_search` */
export async function searchSystemPostHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  return search(ctx, req, { types: [...RESOURCE_TYPES], system: true }, '', [...req.query, ...formParameters(req.body)]);
}

/** Resource types that can be in a Patient compartment. */
function compartmentTypes(): string[] {
  return [...RESOURCE_TYPES].filter((type) => getPatientCompartmentParams(type).length > 0);
}

/** `GET [base]/Patient/[id]/[type]` and `GET [base]/Patient/[id]/*` */
export async function searchCompartmentHandler(ctx: FhirContext, req: FhirRequest, params: RouteParams): Promise<FhirResponse> {
  const patientId = idParam(params);
  const target = params.compartmentType ?? '';
  const types = target === '*' ? compartmentTypes() : [resourceTypeParam({ type: target })];
  return search(ctx, req, { types, compartmentPatient: patientId }, `/Patient/${patientId}/${target}`, req.query);
}
