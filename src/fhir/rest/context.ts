/** Helpers that read and check the parts of a FHIR request: resource type, id and body. */
import { isResourceType } from '../definitions';
import { BadRequestError, ResourceNotFoundError } from '../errors';
import { isValidId } from '../repository/repository';
import type { FhirRequest } from './fhir-request';

/** Path parameters captured by the route table. */
export type RouteParams = Record<string, string>;

/**
 * The resource type named in the path, checked against the server's definitions.
 * @param params - the route parameters
 * @returns the type
 */
export function resourceTypeParam(params: RouteParams): string {
  const type = params.type ?? '';
  if (!isResourceType(type)) throw new ResourceNotFoundError(`Unknown resource type '${type}'`);
  return type;
}

/**
 * The logical id named in the path, checked for FHIR id syntax.
 * @param params - the route parameters
 * @returns the id
 */
export function idParam(params: RouteParams): string {
  const id = params.id ?? '';
  if (!isValidId(id)) throw new BadRequestError(`'${id}' is not a valid FHIR id`);
  return id;
}

/**
 * The request body as a resource of the path's type.
 * @param req - the request
 * @param type - the type from the path
 * @returns the body
 */
export function resourceBody(req: FhirRequest, type: string): Record<string, unknown> & { resourceType: string } {
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('The request body must be a FHIR resource (a JSON object)', undefined, 'structure');
  }
  const resourceType = (body as Record<string, unknown>).resourceType;
  if (resourceType !== type) {
    throw new BadRequestError(
      `resourceType '${String(resourceType)}' does not match the URL type '${type}'`,
      [`${type}.resourceType`],
    );
  }
  return body as Record<string, unknown> & { resourceType: string };
}
