/**
 * The `fhirContext` token response parameter (SMART App Launch 2.x, "fhirContext"): resources relevant to the
 * launch besides the patient and encounter, which have their own parameters. An item that is the launch patient
 * (`Patient/<patient>`) or encounter (`Encounter/<encounter>`) is left out unless it names a `role` other than
 * `launch` (the role an item without one has): the spec allows Patient and Encounter in `fhirContext` only with a
 * non-launch role, since the launch ones are already `patient` and `encounter`. The parameter is omitted when
 * nothing is left.
 */

/** The role of an item that names none (fhirContext Role Registry). */
export const LAUNCH_ROLE = 'launch';

/** One item of `fhirContext`: a relative reference, optionally with its role (`launch` or an absolute URI). */
export interface FhirContextItem {
  reference: string;
  role?: string;
}

/** The patient and encounter ids of a launch. */
export interface LaunchIds {
  patient?: string;
  encounter?: string;
}

/**
 * Reads stored `fhirContext` items, keeping only well-formed ones.
 * @param value - the stored value
 * @returns the items (empty when none)
 */
export function readFhirContext(value: unknown): FhirContextItem[] {
  if (!Array.isArray(value)) return [];
  const items: FhirContextItem[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { reference, role } = entry as Record<string, unknown>;
    if (typeof reference !== 'string') continue;
    items.push(typeof role === 'string' ? { reference, role } : { reference });
  }
  return items;
}

function repeatsLaunch(item: FhirContextItem, launch: LaunchIds): boolean {
  if ((item.role ?? LAUNCH_ROLE) !== LAUNCH_ROLE) return false;
  return (
    (launch.patient !== undefined && item.reference === `Patient/${launch.patient}`) ||
    (launch.encounter !== undefined && item.reference === `Encounter/${launch.encounter}`)
  );
}

/**
 * The `fhirContext` of a token response.
 * @param items - the context items of the launch
 * @param launch - the launch patient and encounter
 * @returns the items that do not repeat the launch patient or encounter
 */
export function fhirContextParameter(items: readonly FhirContextItem[], launch: LaunchIds): FhirContextItem[] {
  return items.filter((item) => !repeatsLaunch(item, launch));
}
