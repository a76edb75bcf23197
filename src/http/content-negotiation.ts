/**
 * FHIR content negotiation (https://hl7.org/fhir/R4/http.html#mime-type):
 * - responses are JSON only;
 * - `_format` overrides `Accept` (http.html#mime-type: it "allows a client to override the accept header value"):
 *   a JSON `_format` (`json`, `application/json`, `application/fhir+json`, with or without parameters such as
 *   `fhirVersion`, an unencoded `+` read as a space) is answered with JSON whatever `Accept` says; any other
 *   `_format` (`xml`, `ttl`, `html`, ...) → 406; an empty `_format` is ignored, as empty search parameters are;
 * - without `_format`, an `Accept` header that admits no JSON type (e.g. XML, Turtle, only `text/html`) → 406;
 * - request bodies are checked against each route's media types in `fhir/rest/dispatch.ts` (415).
 */
import { NotAcceptableError } from '../fhir/errors';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir']);
const JSON_ACCEPT = /^(\*\/\*|application\/\*|application\/(fhir\+)?json|application\/json\+fhir)$/i;

/** The FHIR JSON media type sent with every FHIR response. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * Refuses requests that only accept non-JSON representations (406). `_format`, when present and not empty,
 * decides alone.
 * @param format - the first `_format` parameter, if any
 * @param accept - the `Accept` header, if any
 * @throws NotAcceptableError when `_format` is not JSON, or without `_format` when `Accept` admits no JSON type
 */
export function assertJsonResponse(format: string | undefined, accept: string | undefined): void {
  if (format !== undefined && format.trim() !== '') {
    // `_format=application/fhir+json` written unencoded arrives with a space for the `+`.
    const mediaType = (format.split(';')[0] ?? '').trim().toLowerCase().replace(/ /g, '+');
    if (!JSON_FORMATS.has(mediaType)) throw new NotAcceptableError(`_format '${format}' is not supported; this server speaks JSON only`);
    return;
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
