/**
 * FHIR content negotiation (https://hl7.org/fhir/R4/http.html#mime-type):
 * - responses are JSON only; an `Accept` header or `_format` that admits no JSON type (e.g. XML, Turtle) → 406;
 * - request bodies are checked against each route's media types in `fhir/rest/dispatch.ts` (415).
 */
import { NotAcceptableError } from '../fhir/errors';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir']);
const JSON_ACCEPT = /^(\*\/\*|application\/\*|application\/(fhir\+)?json|application\/json\+fhir)$/i;

/** The FHIR JSON media type sent with every FHIR response. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * Refuses requests that only accept non-JSON representations (406).
 * @param format - the first `_format` parameter, if any
 * @param accept - the `Accept` header, if any
 * @throws NotAcceptableError when neither admits JSON
 */
export function assertJsonResponse(format: string | undefined, accept: string | undefined): void {
  if (format !== undefined && !JSON_FORMATS.has(format.trim().toLowerCase())) {
    throw new NotAcceptableError(`_format '${format}' is not supported; this server speaks JSON only`);
  }
  if (accept && !acceptsJson(accept)) {
    throw new NotAcceptableError(`Accept '${accept}' admits no JSON type; this server speaks JSON only`);
  }
}

function acceptsJson(accept: string): boolean {
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) return false;
    return JSON_ACCEPT.test((type ?? '').trim());
  });
}
