/**
 * Reads the entries of a `batch` or `transaction` Bundle into {@link FhirRequest}s, the same form the HTTP
 * adapter produces, so an entry behaves like the request sent on its own
 * (https://hl7.org/fhir/R4/http.html#transaction, https://hl7.org/fhir/R4/bundle.html#transaction).
 *
 * An entry whose request cannot be read (no method, a URL outside this server, a PATCH without a JSON Patch
 * Binary...) becomes a {@link EntryProblem}: in a batch only that entry fails, in a transaction everything does.
 */
import { BadRequestError, FhirError, PayloadTooLargeError } from '../errors';
import type { FhirRequest } from '../rest/fhir-request';

/** Bundle types this server processes when POSTed to the base. */
export const PROCESSABLE_BUNDLE_TYPES = ['batch', 'transaction'] as const;
export type ProcessableBundleType = (typeof PROCESSABLE_BUNDLE_TYPES)[number];

/** Entry methods, in transaction processing order (http.html#trules). */
export const METHOD_ORDER = ['DELETE', 'POST', 'PUT', 'PATCH', 'GET', 'HEAD'] as const;
const METHODS = new Set<string>(METHOD_ORDER);

/** The processing group of a method: DELETE, then POST, then PUT and PATCH, then GET and HEAD. */
export function processingGroup(method: string): number {
  if (method === 'DELETE') return 0;
  if (method === 'POST') return 1;
  if (method === 'PUT' || method === 'PATCH') return 2;
  return 3;
}

/** One readable entry. */
export interface BundleRequestEntry {
  /** Position in the Bundle. */
  index: number;
  fullUrl?: string;
  request: FhirRequest;
}

/** An entry that cannot be processed, with the error it answers. */
export interface EntryProblem {
  index: number;
  fullUrl?: string;
  error: FhirError;
}

/** A Bundle read for processing. */
export interface ParsedBundle {
  type: ProcessableBundleType;
  entries: Array<BundleRequestEntry | EntryProblem>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks the Bundle's shape and reads every entry.
 * @param body - the POSTed body
 * @param options - the project's FHIR base URL, the entry limit and the Bundle-level `Prefer` header
 * @returns the Bundle type and its entries
 * @throws BadRequestError for a body that is not a batch/transaction Bundle; PayloadTooLargeError over the limit
 */
export function parseBundle(body: unknown, options: { baseUrl: string; maxEntries: number; prefer?: string }): ParsedBundle {
  if (!isObject(body) || body.resourceType !== 'Bundle') {
    throw new BadRequestError('POST to the FHIR base takes a Bundle of type batch or transaction', ['Bundle'], 'structure');
  }
  const type = body.type;
  if (typeof type !== 'string' || !(PROCESSABLE_BUNDLE_TYPES as readonly string[]).includes(type)) {
    throw new BadRequestError(`Bundle.type must be batch or transaction, got ${JSON.stringify(type) ?? 'nothing'}`, ['Bundle.type'], 'value');
  }
  const raw = body.entry ?? [];
  if (!Array.isArray(raw)) throw new BadRequestError('Bundle.entry must be an array', ['Bundle.entry'], 'structure');
  if (raw.length > options.maxEntries) {
    throw new PayloadTooLargeError(`The Bundle has ${raw.length} entries; at most ${options.maxEntries} are accepted (BUNDLE_MAX_ENTRIES)`);
  }
  return {
    type: type as ProcessableBundleType,
    entries: raw.map((entry: unknown, index) => readEntry(entry, index, options)),
  };
}

function readEntry(entry: unknown, index: number, options: { baseUrl: string; prefer?: string }): BundleRequestEntry | EntryProblem {
  const at = `Bundle.entry[${index}]`;
  const fullUrl = isObject(entry) && typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined;
  try {
    if (!isObject(entry)) throw new BadRequestError(`${at} must be an object`, [at], 'structure');
    if (entry.fullUrl !== undefined && typeof entry.fullUrl !== 'string') {
      throw new BadRequestError(`${at}.fullUrl must be a string`, [`${at}.fullUrl`], 'structure');
    }
    const request = entry.request;
    if (!isObject(request)) throw new BadRequestError(`${at}.request is required`, [`${at}.request`], 'required');
    const method = typeof request.method === 'string' ? request.method : '';
    if (!METHODS.has(method)) {
      throw new BadRequestError(`${at}.request.method must be one of ${METHOD_ORDER.join(', ')}`, [`${at}.request.method`], 'value');
    }
    if (typeof request.url !== 'string' || request.url.trim() === '') {
      throw new BadRequestError(`${at}.request.url is required`, [`${at}.request.url`], 'required');
    }
    const { path, query } = parseEntryUrl(request.url, options.baseUrl, `${at}.request.url`);
    if (path.length === 0 || (path.length === 1 && path[0] === '_search')) {
      throw new BadRequestError(`${at}.request.url must name a resource type, not the base`, [`${at}.request.url`], 'not-supported');
    }
    const headers = {
      ifMatch: stringField(request, 'ifMatch', at),
      ifNoneMatch: stringField(request, 'ifNoneMatch', at),
      ifModifiedSince: stringField(request, 'ifModifiedSince', at),
      ifNoneExist: stringField(request, 'ifNoneExist', at),
      prefer: options.prefer,
    };
    const fhirRequest: FhirRequest = { method, path, query, headers };
    if (method === 'POST' || method === 'PUT') {
      if (!isObject(entry.resource)) throw new BadRequestError(`${at}.resource is required for ${method}`, [`${at}.resource`], 'required');
      fhirRequest.body = entry.resource;
      fhirRequest.contentType = 'application/fhir+json';
      if (method === 'POST' && path[path.length - 1] === '_search') {
        throw new BadRequestError(`${at}: use GET with parameters for a search inside a Bundle`, [`${at}.request.url`], 'not-supported');
      }
    } else if (method === 'PATCH') {
      fhirRequest.body = jsonPatchBody(entry.resource, at);
      fhirRequest.contentType = 'application/json-patch+json';
    } else if (entry.resource !== undefined) {
      throw new BadRequestError(`${at}: a ${method} entry takes no resource`, [`${at}.resource`], 'structure');
    }
    return { index, fullUrl, request: fhirRequest };
  } catch (err) {
    if (err instanceof FhirError) return { index, fullUrl, error: err };
    throw err;
  }
}

function stringField(request: Record<string, unknown>, name: string, at: string): string | undefined {
  const value = request[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`${at}.request.${name} must be a string`, [`${at}.request.${name}`], 'structure');
  return value;
}

/**
 * Splits an entry URL (`Patient/1`, `Patient?identifier=x`, or absolute under this FHIR base) into decoded path
 * segments and query pairs.
 * @param url - `request.url`
 * @param baseUrl - the project's FHIR base
 * @param at - the element, for errors
 * @returns path and query
 */
export function parseEntryUrl(url: string, baseUrl: string, at: string): { path: string[]; query: Array<[string, string]> } {
  let relative = url.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(relative)) {
    if (!relative.startsWith(`${baseUrl}/`) && relative !== baseUrl) {
      throw new BadRequestError(`${at} '${url}' is not a URL of this server's FHIR base`, [at], 'not-supported');
    }
    relative = relative.slice(baseUrl.length);
  }
  relative = relative.replace(/^\/+/, '');
  const question = relative.indexOf('?');
  const pathText = question >= 0 ? relative.slice(0, question) : relative;
  const queryText = question >= 0 ? relative.slice(question + 1) : '';
  let path: string[];
  try {
    path = pathText.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    throw new BadRequestError(`${at} '${url}' is not valid percent-encoding`, [at], 'value');
  }
  if (path.some((s) => s === '.' || s === '..' || s.includes('/') || s.includes('#'))) {
    throw new BadRequestError(`${at} '${url}' has an invalid path segment`, [at], 'value');
  }
  return { path, query: [...new URLSearchParams(queryText).entries()] };
}

/** A PATCH entry carries its JSON Patch as a Binary (http.html#patch, "Patch in Bundles"). */
function jsonPatchBody(resource: unknown, at: string): unknown {
  const where = [`${at}.resource`];
  if (!isObject(resource) || resource.resourceType !== 'Binary') {
    throw new BadRequestError(`${at}: a PATCH entry carries a Binary resource whose data is the JSON Patch`, where, 'required');
  }
  if (resource.contentType !== 'application/json-patch+json') {
    throw new BadRequestError(`${at}: only JSON Patch (Binary.contentType application/json-patch+json) is supported`, [`${at}.resource.contentType`], 'not-supported');
  }
  if (typeof resource.data !== 'string' || !/^[A-Za-z0-9+/=\s]*$/.test(resource.data)) {
    throw new BadRequestError(`${at}: Binary.data must be the base64 JSON Patch`, [`${at}.resource.data`], 'value');
  }
  try {
    return JSON.parse(Buffer.from(resource.data, 'base64').toString('utf8')) as unknown;
  } catch {
    throw new BadRequestError(`${at}: Binary.data is not base64 of a JSON document`, [`${at}.resource.data`], 'value');
  }
}
