/**
 * Writes FHIR responses: JSON with `application/fhir+json`, `Cache-Control: no-store`, version headers, and the
 * `Prefer: return=minimal | representation | OperationOutcome` choice for writes
 * (https://hl7.org/fhir/R4/http.html#ops).
 */
import type { Request, Response } from 'express';
import { FHIR_JSON } from '../../http/content-negotiation';
import { informationOutcome } from '../outcomes';

/** What a FHIR handler returns. */
export interface FhirResponse {
  status: number;
  /** The resource (or Bundle / OperationOutcome) to send. */
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** Writes honour `Prefer: return=...`; `outcome` is the message for return=OperationOutcome. */
  write?: { outcome: string };
}

/**
 * The `ETag` value for a version.
 * @param versionId - the version
 * @returns `W/"<versionId>"`
 */
export function etag(versionId: string | number): string {
  return `W/"${versionId}"`;
}

/**
 * Version headers for a stored resource.
 * @param versionId - meta.versionId
 * @param lastUpdated - meta.lastUpdated (ISO instant)
 * @returns ETag and Last-Modified
 */
export function versionHeaders(versionId: string | number, lastUpdated: string): Record<string, string> {
  return { ETag: etag(versionId), 'Last-Modified': new Date(lastUpdated).toUTCString() };
}

function preferredReturn(req: Request): 'minimal' | 'representation' | 'OperationOutcome' {
  const prefer = req.get('prefer') ?? '';
  const match = /(?:^|[,;\s])return=(minimal|representation|OperationOutcome)\b/i.exec(prefer);
  const value = match?.[1]?.toLowerCase();
  if (value === 'minimal') return 'minimal';
  if (value === 'operationoutcome') return 'OperationOutcome';
  return 'representation';
}

/**
 * Sends a handler's result.
 * @param req - the request (for Prefer)
 * @param res - the response
 * @param result - the handler's result
 */
export function sendFhirResponse(req: Request, res: Response, result: FhirResponse): void {
  res.status(result.status);
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  let body = result.body;
  if (result.write) {
    const preference = preferredReturn(req);
    if (preference === 'minimal') body = undefined;
    else if (preference === 'OperationOutcome') body = informationOutcome(result.write.outcome) as unknown as Record<string, unknown>;
  }
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', FHIR_JSON);
  res.send(JSON.stringify(body));
}
