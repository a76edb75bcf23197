/**
 * FHIR content negotiation (https://hl7.org/fhir/R4/http.html#mime-type):
 * - responses are JSON only; an `Accept` header or `_format` that admits no JSON type (e.g. XML, Turtle) → 406;
 * - request bodies are checked against each route's media types in `fhir/rest/dispatch.ts` (415).
 */
import type { NextFunction, Request, Response } from 'express';
import { NotAcceptableError } from '../fhir/errors';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir']);
const JSON_ACCEPT = /^(\*\/\*|application\/\*|application\/(fhir\+)?json|application\/json\+fhir)$/i;

/** The FHIR JSON media type sent with every FHIR response. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * Refuses requests that only accept non-JSON representations.
 * @returns the middleware
 */
export function requireJsonResponse() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const format = req.query._format;
    if (format !== undefined) {
      const value = Array.isArray(format) ? format[0] : format;
      if (typeof value !== 'string' || !JSON_FORMATS.has(value.trim().toLowerCase())) {
        throw new NotAcceptableError(`_format '${String(value)}' is not supported; this server speaks JSON only`);
      }
    }
    const accept = req.get('accept');
    if (accept && !acceptsJson(accept)) {
      throw new NotAcceptableError(`Accept '${accept}' admits no JSON type; this server speaks JSON only`);
    }
    next();
  };
}

function acceptsJson(accept: string): boolean {
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) return false;
    return JSON_ACCEPT.test((type ?? '').trim());
  });
}
