/**
 * Patterns for literal references (https://hl7.org/fhir/R4/references.html#literal), shared by indexing,
 * `resolve()` stubs, search filters, the policy engine and the authorization server so they all read a reference
 * the same way.
 */

/**
 * The `Type/id` a reference ends with: relative (`Patient/1`), absolute (`https://x/fhir/Patient/1`) or versioned
 * (`Patient/1/_history/2`). Group 1 is the type, group 2 the id.
 */
export const REFERENCE_TARGET = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** Exactly a relative reference `Type/id`. Group 1 is the type, group 2 the id. */
export const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * The `reference` string of a Reference element.
 * @param value - the element (anything)
 * @returns the reference, or undefined when it has none
 */
export function referenceOf(value: unknown): string | undefined {
  const reference = typeof value === 'object' && value !== null ? (value as { reference?: unknown }).reference : undefined;
  return typeof reference === 'string' ? reference : undefined;
}
