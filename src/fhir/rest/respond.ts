/**
 * Writes FHIR responses: JSON with `application/fhir+json`, `Cache-Control: no-store`, version headers, and the
 * `Prefer: return=minimal | representation | OperationOutcome` choice for writes
 * (https://hl7.org/fhir/R4/http.html#ops).
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { FHIR_JSON } from '../../http/content-negotiation';
import { jsonParts } from '../budget';
import { TimeSlice } from '../../time-slice';
import { informationOutcome } from '../outcomes';

/** What a FHIR handler returns. */
export interface FhirResponse {
  status: number;
  /** The resource (or Bundle / OperationOutcome) to send. */
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** Writes honour `Prefer: return=...`; `outcome` is the message for return=OperationOutcome. */
  write?: { outcome: string };
  /** The body's media type when it is not FHIR JSON (the bulk export manifest is `application/json`). */
  contentType?: string;
  /** A file sent as the body, streamed (bulk export NDJSON). */
  file?: { path: string; size: number; contentType: string };
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
  return { ETag: etag(versionId), 'Last-Modified': httpDate(lastUpdated) };
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** The instants the server writes (`meta.lastUpdated`): UTC, seconds, optional fraction. */
const UTC_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/;

/**
 * An instant as an HTTP-date (RFC 9110 §5.6.7, IMF-fixdate), e.g. `Mon, 23 Nov 2026 06:01:13 GMT`.
 * Instants in the server's own UTC form are formatted from their digits (no date parsing on the read path).
 * @param instant - an ISO 8601 instant
 * @returns the HTTP-date
 */
export function httpDate(instant: string): string {
  const match = UTC_INSTANT.exec(instant);
  const monthName = match ? MONTHS[Number(match[2]) - 1] : undefined;
  if (!match || monthName === undefined || Number(match[3]) > 31) return new Date(instant).toUTCString();
  const [, year, month, day, time] = match as unknown as [string, string, string, string, string];
  const weekday = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))).getUTCDay();
  return `${WEEKDAYS[weekday] ?? ''}, ${day} ${monthName} ${year} ${time} GMT`;
}

/**
 * The `Prefer: return=` choice.
 * @param prefer - the Prefer header value
 * @returns minimal, representation (the default) or OperationOutcome
 */
export function preferredReturn(prefer: string | undefined): 'minimal' | 'representation' | 'OperationOutcome' {
  const match = /(?:^|[,;\s])return=(minimal|representation|OperationOutcome)\b/i.exec(prefer ?? '');
  const value = match?.[1]?.toLowerCase();
  if (value === 'minimal') return 'minimal';
  if (value === 'operationoutcome') return 'OperationOutcome';
  return 'representation';
}

/**
 * The body to send for a result, applying `Prefer: return=` to writes.
 * @param result - the handler's result
 * @param prefer - the Prefer header value
 * @returns the body, or undefined for none
 */
export function responseBody(result: FhirResponse, prefer: string | undefined): Record<string, unknown> | undefined {
  if (!result.write) return result.body;
  const preference = preferredReturn(prefer);
  if (preference === 'minimal') return undefined;
  if (preference === 'OperationOutcome') return informationOutcome(result.write.outcome) as unknown as Record<string, unknown>;
  return result.body;
}

/**
 * Sends a handler's result.
 * @param res - the response
 * @param result - the handler's result
 * @param prefer - the request's Prefer header
 */
export async function sendFhirResponse(res: Response, result: FhirResponse, prefer: string | undefined): Promise<void> {
  res.status(result.status);
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  if (result.file) {
    res.setHeader('Content-Type', result.file.contentType);
    res.setHeader('Content-Length', result.file.size);
    await pipeline(createReadStream(result.file.path), res);
    return;
  }
  const body = responseBody(result, prefer);
  if (body === undefined) {
    res.end();
    return;
  }
  // Written directly: the status, validators and conditional answers (304) are the handlers' decisions, and Node
  // leaves the body out of HEAD, 204 and 304 responses itself.
  res.setHeader('Content-Type', result.contentType ?? FHIR_JSON);
  if (body.resourceType !== 'Bundle') {
    const json = JSON.stringify(body);
    res.setHeader('Content-Length', Buffer.byteLength(json));
    res.end(json);
    return;
  }
  // Bundles hold pieces serialized within the request's budget as they were added (budget.ts): written part by
  // part, in chunks, letting other requests in between, never joined into one string.
  const { parts } = jsonParts(body);
  let length = 0;
  for (const part of parts) length += Buffer.byteLength(part);
  res.setHeader('Content-Length', length);
  const slice = new TimeSlice();
  let chunk = '';
  for (const part of parts) {
    chunk += part;
    if (chunk.length < WRITE_CHUNK) continue;
    res.write(chunk);
    chunk = '';
    await slice.breathe();
  }
  res.end(chunk);
}

/** Characters of a Bundle written at a time. */
const WRITE_CHUNK = 64 * 1024;
