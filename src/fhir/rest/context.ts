/** The FHIR part of a request's context: the project it addresses and that project's repository. */
import type { Request } from 'express';
import type { Project } from '../../tenancy/projects';
import { BadRequestError, ResourceNotFoundError } from '../errors';
import { isResourceType } from '../definitions';
import { type FhirRepository, isValidId } from '../repository/repository';

/** Set on every request under a FHIR base. */
export interface FhirContext {
  project: Project;
  repo: FhirRepository;
  /** Absolute FHIR base URL of the project (`{PUBLIC_URL}/w/{tenant}/{project}/api/v1/fhir/r4`). */
  baseUrl: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      fhir: FhirContext;
    }
  }
}

/**
 * The resource type named in the URL, checked against the server's definitions.
 * @param req - the request
 * @returns the type
 */
export function resourceTypeParam(req: Request): string {
  const type = String(req.params.type ?? '');
  if (!isResourceType(type)) throw new ResourceNotFoundError(`Unknown resource type '${type}'`);
  return type;
}

/**
 * The logical id named in the URL, checked for FHIR id syntax.
 * @param req - the request
 * @returns the id
 */
export function idParam(req: Request): string {
  const id = String(req.params.id ?? '');
  if (!isValidId(id)) throw new BadRequestError(`'${id}' is not a valid FHIR id`);
  return id;
}

/**
 * The request body as a resource of the URL's type.
 * @param req - the request
 * @param type - the type from the URL
 * @returns the body
 */
export function resourceBody(req: Request, type: string): Record<string, unknown> & { resourceType: string } {
  const body: unknown = req.body;
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
