/**
 * The transport-independent form of a FHIR interaction. The HTTP adapter (`router.ts`) and Bundle processing
 * build the same `FhirRequest` and hand it to `dispatch()`, so an entry of a batch behaves exactly like the same
 * request sent on its own.
 */
import type { Config } from '../../config/schema';
import type { AuthContext } from '../../oauth/bearer';
import type { Project } from '../../tenancy/projects';
import type { ProjectCreator } from '../../tenancy/provision';
import type { AccessControlledRepository } from '../access/access-controlled-repository';
import type { RequestBudget } from '../budget';
import type { BulkExports } from '../bulk/bulk-exports';

/** Headers that change the meaning of an interaction. */
export interface FhirRequestHeaders {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifNoneExist?: string;
  prefer?: string;
}

/** A FHIR interaction request relative to a project's FHIR base. */
export interface FhirRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** Decoded path segments after the FHIR base (`['Patient', '123', '_history', '2']`). */
  path: string[];
  /** Query parameters in order; a repeated name appears several times. */
  query: Array<[name: string, value: string]>;
  /** Media type of the body without parameters (`application/fhir+json`), when there is a body. */
  contentType?: string;
  /** The parsed body. */
  body?: unknown;
  headers: FhirRequestHeaders;
  /**
   * The id a create must use (Bundle processing assigns ids up front so that `urn:uuid:` references can be
   * rewritten before anything runs). Never set from HTTP input.
   */
  assignedId?: string;
}

/** What handlers need besides the request. */
export interface FhirContext {
  project: Project;
  /** The caller's view of the project's resources: every interaction goes through its access checks. */
  repo: AccessControlledRepository;
  /** Absolute FHIR base URL of the project (`{PUBLIC_URL}/w/{tenant}/{project}/api/v1/fhir/r4`). */
  baseUrl: string;
  config: Config;
  /** What the request may still spend (response bytes, time); shared by every entry of a Bundle. */
  budget: RequestBudget;
  /** The caller (absent only on public paths such as `/metadata`). */
  auth?: AuthContext;
  /** The bulk export service (`$export`); absent where the server runs none. */
  bulk?: BulkExports;
  /** Provisions the project of a Project resource once it is created (set on the FHIR API; docs/projects.md). */
  provisioner?: ProjectLifecycle;
}

/** What happens when a Project resource is created in the system project. */
export interface ProjectLifecycle {
  /** The system project's key (`tenant/project`): the only project where Project resources may be written. */
  readonly systemProject: string;
  /**
   * After a Project write: provisions the project the stored resource describes when it was just created, or when
   * its provisioning never completed (no registry record: writing the Project again retries it).
   * @param project - the stored resource
   * @param created - the write created the resource
   * @param creator - who wrote it
   */
  written(project: Record<string, unknown>, created: boolean, creator: ProjectCreator): Promise<void>;
}

/**
 * The single value of a query parameter.
 * @param req - the request
 * @param name - the parameter name
 * @returns the value, or undefined when absent
 */
export function queryValue(req: FhirRequest, name: string): string | undefined {
  return req.query.find(([key]) => key === name)?.[1];
}
