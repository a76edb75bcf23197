/**
 * Reference rewriting inside a Bundle (https://hl7.org/fhir/R4/http.html#trules):
 * - a `urn:uuid:` / `urn:oid:` fullUrl names a resource the Bundle creates or updates; every string in any
 *   entry equal to that fullUrl (references, but also e.g. narrative links) becomes `Type/id`;
 * - a conditional reference (`"reference": "Patient?identifier=x"`) is replaced by the single current match;
 *   none or several fail the entry.
 */
import { matchResources } from '../search/match';
import { BadRequestError, FhirError } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { isResourceType } from '../definitions';

/** A fullUrl that only names a resource inside the Bundle. */
export function isPlaceholder(fullUrl: string | undefined): fullUrl is string {
  return fullUrl !== undefined && /^urn:(uuid|oid):\S+$/.test(fullUrl);
}

const CONDITIONAL_REFERENCE = /^([A-Za-z]+)\?(.+)$/;

/** 412 for a conditional reference that matches several resources. */
export class AmbiguousReferenceError extends FhirError {
  constructor(reference: string) {
    super(412, { code: 'multiple-matches', diagnostics: `The conditional reference '${reference}' matches more than one resource` });
  }
}

/**
 * Replaces placeholders in a JSON value.
 * @param value - a resource or any JSON value
 * @param replacements - exact string → replacement
 * @returns a copy with every string equal to a key replaced (the input is not modified)
 */
export function replaceStrings(value: unknown, replacements: ReadonlyMap<string, string>): unknown {
  if (replacements.size === 0) return value;
  if (typeof value === 'string') return replacements.get(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => replaceStrings(item, replacements));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = replaceStrings(item, replacements);
    return copy;
  }
  return value;
}

/**
 * The conditional references (`Type?params` in a `reference` element) in a JSON value.
 * @param value - a resource
 * @param found - collects the references
 * @returns the set of references
 */
export function conditionalReferences(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) conditionalReferences(item, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'reference' && typeof item === 'string' && CONDITIONAL_REFERENCE.test(item)) found.add(item);
      else conditionalReferences(item, found);
    }
  }
  return found;
}

/**
 * Resolves a conditional reference to `Type/id` of its single match.
 * @param ctx - the project context (in a transaction: the staged view)
 * @param reference - `Type?params`
 * @returns `Type/id`
 * @throws BadRequestError for an unknown type, bad parameters or no match; AmbiguousReferenceError for several
 */
export async function resolveConditionalReference(ctx: FhirContext, reference: string): Promise<string> {
  const [, type = '', query = ''] = CONDITIONAL_REFERENCE.exec(reference) ?? [];
  if (!isResourceType(type)) throw new BadRequestError(`The conditional reference '${reference}' names an unknown resource type`);
  const matches = await matchResources(ctx, type, [...new URLSearchParams(query).entries()], { limit: 2 });
  if (matches.length > 1) throw new AmbiguousReferenceError(reference);
  const [match] = matches;
  if (!match) throw new BadRequestError(`The conditional reference '${reference}' matches no resource`, undefined, 'not-found');
  return `${type}/${match.id}`;
}
