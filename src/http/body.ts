/**
 * Request bodies of the FHIR API, read only when a request has one:
 * - JSON (resources, Bundles, JSON Patch) by Express's JSON parser (strict: objects and arrays only) up to the
 *   configured size, then checked for nesting depth so that no later recursive step can overflow the stack;
 * - form-encoded `POST _search` bodies, every name kept verbatim (`a[b]=c` stays the name `a[b]`: form names are
 *   search parameter names, never object paths), at most {@link FORM_PARAMETER_LIMIT} parameters.
 * Parser errors keep their `type` and are rendered by the error handler (400/413/415).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { BadRequestError, PayloadTooLargeError } from '../fhir/errors';

/** Deepest nesting accepted in a request body (R4 resources stay far below this). */
export const MAX_BODY_DEPTH = 64;

/** Most parameters in a form-encoded `_search` body. */
export const FORM_PARAMETER_LIMIT = 1000;

/** Media types whose bodies are parsed as JSON. */
export const JSON_BODY_TYPES = ['application/json', 'application/fhir+json', 'application/json-patch+json', 'application/json+fhir'];

/**
 * Whether a request carries a body (RFC 9112 §6.3: a Content-Length or Transfer-Encoding header).
 * @param req - the request
 * @returns true when it does
 */
export function hasBody(req: Request): boolean {
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

function run(step: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    const next: NextFunction = (err?: unknown) => (err ? reject(err) : resolve());
    void step(req, res, next);
  });
}

/** What the form parser reports for limits and bad encodings, as FHIR errors. */
function formError(err: unknown): unknown {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'parameters.too.many') return new PayloadTooLargeError(`A _search body may carry at most ${FORM_PARAMETER_LIMIT} parameters`);
  if (type === 'querystring.parse.rangeError') return new BadRequestError('The _search body is not valid form encoding');
  return err;
}

/**
 * The body reader of the FHIR API.
 * @param limitBytes - the largest accepted body
 * @returns a function that reads a request's body into `req.body` (JSON or form), or rejects
 */
export function fhirBodyReader(limitBytes: number): (req: Request, res: Response) => Promise<void> {
  const json = express.json({ limit: limitBytes, strict: true, type: JSON_BODY_TYPES });
  const form = express.urlencoded({ extended: false, limit: limitBytes, parameterLimit: FORM_PARAMETER_LIMIT });
  return async (req, res) => {
    await run(json, req, res);
    if (req.body !== undefined && exceedsDepth(req.body, MAX_BODY_DEPTH)) {
      throw new BadRequestError(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels`, undefined, 'structure');
    }
    await run(form, req, res).catch((err: unknown) => {
      throw formError(err);
    });
  };
}

/**
 * Iterative depth check (no recursion, so hostile input cannot exhaust the stack).
 * @param value - parsed JSON
 * @param maxDepth - the limit
 * @returns true when some value is nested deeper than maxDepth
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
