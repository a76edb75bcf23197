/**
 * Typed FHIR errors. Code throws them; `http/error-handler.ts` renders them as OperationOutcome with `status`.
 * Issue codes: https://hl7.org/fhir/R4/valueset-issue-type.html
 */
import type { OperationOutcomeIssue } from 'fhir/r4';

/** An OperationOutcome issue type code. */
export type IssueCode = OperationOutcomeIssue['code'];

/** One problem to report in an OperationOutcome. */
export interface Issue {
  severity?: OperationOutcomeIssue['severity'];
  code: IssueCode;
  diagnostics: string;
  /** FHIRPath locations of the problem, e.g. `Patient.birthDate`. */
  expression?: string[];
}

/** Base class: an HTTP status plus one or more OperationOutcome issues. */
export class FhirError extends Error {
  readonly issues: Issue[];
  /** Extra response headers (e.g. `WWW-Authenticate`). */
  headers: Record<string, string> = {};

  constructor(
    readonly status: number,
    issues: Issue | Issue[],
    options?: { cause?: unknown },
  ) {
    const list = Array.isArray(issues) ? issues : [issues];
    super(list.map((i) => i.diagnostics).join('; '), options);
    this.name = new.target.name;
    this.issues = list;
  }
}

/** 400: the request cannot be understood (bad syntax, bad parameter, id mismatch). */
export class BadRequestError extends FhirError {
  constructor(diagnostics: string, expression?: string[], code: IssueCode = 'invalid') {
    super(400, { code, diagnostics, expression });
  }
}

/** 400: the resource failed validation; one issue per problem. */
export class InvalidResourceError extends FhirError {
  constructor(issues: Issue[]) {
    super(400, issues);
  }
}

/** 401: no or bad credentials. */
export class UnauthorizedError extends FhirError {
  constructor(diagnostics = 'Authentication required') {
    super(401, { code: 'login', diagnostics });
  }
}

/** 403: the caller is known but may not do this. */
export class ForbiddenError extends FhirError {
  constructor(diagnostics = 'Forbidden') {
    super(403, { code: 'forbidden', diagnostics });
  }
}

/** 404: no such resource, type, tenant or project. */
export class ResourceNotFoundError extends FhirError {
  constructor(diagnostics: string) {
    super(404, { code: 'not-found', diagnostics });
  }
}

/** 405: the interaction is not allowed on this path. */
export class MethodNotAllowedError extends FhirError {
  constructor(diagnostics: string) {
    super(405, { code: 'not-supported', diagnostics });
  }
}

/** 406: the client asked for a format the server does not produce (e.g. XML). */
export class NotAcceptableError extends FhirError {
  constructor(diagnostics: string) {
    super(406, { code: 'not-supported', diagnostics });
  }
}

/** 409: the write conflicts with the current state (e.g. a unique value already taken). */
export class ConflictError extends FhirError {
  constructor(diagnostics: string, expression?: string[]) {
    super(409, { code: 'conflict', diagnostics, expression });
  }
}

/** 410: the resource was deleted. */
export class ResourceGoneError extends FhirError {
  constructor(diagnostics: string) {
    super(410, { code: 'deleted', diagnostics });
  }
}

/** 412: an `If-Match` precondition did not hold, or a concurrent write won. */
export class VersionConflictFhirError extends FhirError {
  constructor(diagnostics: string) {
    super(412, { code: 'conflict', diagnostics });
  }
}

/** 413: the body is larger than the configured limit. */
export class PayloadTooLargeError extends FhirError {
  constructor(diagnostics: string) {
    super(413, { code: 'too-costly', diagnostics });
  }
}

/** 415: the body's Content-Type is not one the interaction accepts. */
export class UnsupportedMediaTypeError extends FhirError {
  constructor(diagnostics: string) {
    super(415, { code: 'not-supported', diagnostics });
  }
}

/** 422: the resource is well-formed but breaks a business rule. */
export class UnprocessableEntityError extends FhirError {
  constructor(diagnostics: string, expression?: string[]) {
    super(422, { code: 'processing', diagnostics, expression });
  }
}

/** Seconds a client is asked to wait (`Retry-After`) after the store refused a write. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

/** 503: the store cannot take the change now (disk full, I/O error); nothing of it was stored. */
export class ServiceUnavailableError extends FhirError {
  constructor(diagnostics: string, options?: { cause?: unknown }) {
    super(503, { code: 'transient', diagnostics }, options);
    this.headers['Retry-After'] = String(STORAGE_RETRY_AFTER_SECONDS);
  }
}
