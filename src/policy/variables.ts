/**
 * The `%variables` an AccessPolicy expression may read (DESIGN §5.3) and the FHIRPath/FHIR built-in constants
 * the engine supplies itself. Anything else is an unknown variable, reported when the policy is written.
 */

/** Variables describing the caller and the request, set for every evaluation. */
export const REQUEST_VARIABLES = ['user', 'membership', 'fhirUser', 'client', 'scopes', 'request'] as const;

/** Variables describing the resource, set per resource (absent from attribute expressions). */
export const RESOURCE_VARIABLES = ['resource', 'before'] as const;

/** Constants from the FHIRPath and FHIR specifications (https://hl7.org/fhir/R4/fhirpath.html#vars). */
export const CONSTANTS: Readonly<Record<string, string>> = Object.freeze({
  sct: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
});

/** Variables fhirpath.js defines itself (`%ucum`, `%context` = the focus, `%factory`). */
const ENGINE_VARIABLES = new Set(['ucum', 'context', 'factory']);

/** Variables whose value depends on the resource being judged. */
export const RESOURCE_DEPENDENT_VARIABLES: ReadonlySet<string> = new Set(['resource', 'before', 'context']);

/** Names an attribute may not take (they would shadow a variable above). */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...REQUEST_VARIABLES,
  ...RESOURCE_VARIABLES,
  ...Object.keys(CONSTANTS),
  ...ENGINE_VARIABLES,
  'terminologies',
  'rootResource',
  'fhirServerUrl',
]);

/** An attribute id: a FHIRPath identifier, usable as `%id`. */
export const ATTRIBUTE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * The value of a `%vs-<name>` or `%ext-<name>` constant (FHIR R4 §2.38 FHIRPath variables).
 * @param name - the variable name without `%`
 * @returns its URL, or undefined for other names
 */
export function specConstant(name: string): string | undefined {
  if (name in CONSTANTS) return CONSTANTS[name];
  const match = /^(vs|ext)-(.+)$/.exec(name);
  if (!match) return undefined;
  return `http://hl7.org/fhir/${match[1] === 'vs' ? 'ValueSet' : 'StructureDefinition'}/${match[2] ?? ''}`;
}

/**
 * Whether a variable is one the engine always supplies.
 * @param name - the variable name without `%`
 * @param resourceLevel - whether `%resource`/`%before`/`%context` are available where the expression runs
 * @returns true when allowed
 */
export function isBuiltInVariable(name: string, resourceLevel: boolean): boolean {
  if ((REQUEST_VARIABLES as readonly string[]).includes(name)) return true;
  if (ENGINE_VARIABLES.has(name) && name !== 'context') return true;
  if (specConstant(name) !== undefined) return true;
  return resourceLevel && ((RESOURCE_VARIABLES as readonly string[]).includes(name) || name === 'context');
}
