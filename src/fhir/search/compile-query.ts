/**
 * Search criteria → one MongoDB filter (https://hl7.org/fhir/R4/search.html):
 * - each occurrence is compiled by the search core (`parameterFilter`: commas are ORs inside it); repeated
 *   parameters are ANDed;
 * - chains and `_has` are resolved by running the inner search first (chain.ts);
 * - an unknown parameter is ignored and reported as a warning, or is a 400 under strict handling;
 * - several types (system search, `Patient/[id]/*`): each criterion is compiled per type; types whose
 *   criteria compile to the same filter share one `type: { $in }` branch;
 * - a compartment (`Patient/[id]/[type]`) adds "one of the compartment parameters references the patient".
 * Only codes from the definitions become parts of keys; URL text only ever ends up in values.
 */
import type { Filter } from '../../storage/ports';
import { getPatientCompartmentParams, getSearchParameter } from '../definitions';
import type { Issue } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { chainFilter, hasFilter, isChainedName } from './chain';
import { parameterFilter, referenceFilter, UnknownSearchParameterError } from './index';
import { isControlParameter } from './parse-request';

/** A compiled query. */
export interface CompiledQuery {
  /** The filter (without project and deletion conditions, which the document access adds). */
  filter: Filter;
  /** Warnings about ignored parameters, for the Bundle's outcome entry. */
  warnings: Issue[];
  /** How many criteria took part in the filter. */
  criteria: number;
}

/** Options of {@link compileQuery}. */
export interface CompileOptions {
  /** Unknown parameters are errors instead of warnings (`Prefer: handling=strict`, conditional interactions). */
  strict: boolean;
  /** Restrict to the compartment of this patient. */
  compartmentPatient?: string;
  /** Restrict to the compartments of these patients, or of any patient (`any`) — bulk export. */
  compartmentPatients?: readonly string[] | 'any';
}

/** A filter no document matches. */
export const MATCH_NOTHING: Filter = { _id: { $in: [] } };

/**
 * Compiles one criterion for one type (plain parameter, chain or `_has`).
 * @param ctx - the project context
 * @param type - the resource type
 * @param name - the parameter name as written
 * @param value - the value
 * @param depth - chain links already followed
 * @returns the filter fragment, or undefined when the value is empty
 */
export async function compileCriterion(ctx: FhirContext, type: string, name: string, value: string, depth = 0): Promise<Filter | undefined> {
  if (name.startsWith('_has:')) return hasFilter(ctx, type, name, value, depth, compileCriterion);
  if (isChainedName(name)) return chainFilter(ctx, type, name, value, depth, compileCriterion);
  return parameterFilter(type, name, value, { baseUrl: ctx.baseUrl });
}

/**
 * The compartment condition for one type: any compartment parameter references `Patient/[id]` (for Patient,
 * also the patient itself).
 * @param type - the resource type
 * @param patientId - the patient's id
 * @returns the filter, or {@link MATCH_NOTHING} when the type is not in the Patient compartment
 */
export function compartmentFilter(type: string, patientId: string): Filter {
  return compartmentsFilter(type, [patientId]);
}

/** A stored reference to any Patient (`r` values are relative references, `Patient/[id]`). */
const ANY_PATIENT = /^Patient\//;

/**
 * The condition "in the compartment of one of these patients" (or of any patient) for one type: any compartment
 * parameter references one of them; a Patient is in its own compartment.
 * @param type - the resource type
 * @param patients - the patients' ids, or `any`
 * @returns the filter, or {@link MATCH_NOTHING} when the type is not in the Patient compartment
 */
export function compartmentsFilter(type: string, patients: readonly string[] | 'any'): Filter {
  // The patient is in its own compartment (R4 lists only `link` for Patient).
  if (type === 'Patient' && patients === 'any') return {};
  const branches: Filter[] = type === 'Patient' ? [{ id: patients.length === 1 ? patients[0] : { $in: [...patients] } }] : [];
  for (const code of getPatientCompartmentParams(type)) {
    if (getSearchParameter(type, code)?.type === 'reference') {
      branches.push(
        patients === 'any'
          ? { [`index.${code}`]: { $elemMatch: { r: ANY_PATIENT } } }
          : referenceFilter(code, patients.map((id) => `Patient/${id}`)),
      );
    }
  }
  if (branches.length === 0) return MATCH_NOTHING;
  return branches.length === 1 ? (branches[0] as Filter) : { $or: branches };
}

/** A stable text form of a filter for grouping (RegExp values are not JSON). */
function filterKey(filters: Filter[]): string {
  return JSON.stringify(filters, (_key, value: unknown) => (value instanceof RegExp ? `\u0000re:${value.source}/${value.flags}` : value));
}

function unknownWarning(err: UnknownSearchParameterError): Issue {
  return {
    severity: 'warning',
    code: 'not-supported',
    diagnostics: `${err.issues[0]?.diagnostics ?? `Unknown search parameter '${err.parameter}'`}; the parameter was ignored`,
    expression: [err.parameter],
  };
}

/**
 * Compiles search criteria for one or several resource types.
 * @param ctx - the project context
 * @param types - the types searched (at least one)
 * @param query - the request's name/value pairs; result controls among them are skipped
 * @param options - strictness and compartment
 * @returns the filter, warnings and the number of criteria used
 * @throws BadRequestError for invalid values; UnknownSearchParameterError (400) under strict handling
 */
export async function compileQuery(
  ctx: FhirContext,
  types: readonly string[],
  query: Array<[string, string]>,
  options: CompileOptions,
): Promise<CompiledQuery> {
  const perType = new Map<string, Filter[]>(types.map((t) => [t, []]));
  const warnings: Issue[] = [];
  let criteria = 0;
  for (const [name, value] of query) {
    if (isControlParameter(name)) continue;
    const fragments: Array<[string, Filter | undefined]> = [];
    try {
      for (const type of types) fragments.push([type, await compileCriterion(ctx, type, name, value)]);
    } catch (err) {
      if (!(err instanceof UnknownSearchParameterError) || options.strict) throw err;
      warnings.push(unknownWarning(err));
      continue;
    }
    if (fragments.some(([, f]) => f !== undefined)) criteria++;
    for (const [type, fragment] of fragments) if (fragment) perType.get(type)?.push(fragment);
  }
  if (options.compartmentPatient !== undefined) {
    for (const type of types) perType.get(type)?.push(compartmentFilter(type, options.compartmentPatient));
  }
  if (options.compartmentPatients !== undefined) {
    const patients = options.compartmentPatients;
    for (const type of types) perType.get(type)?.push(compartmentsFilter(type, patients));
  }
  return { filter: combineTypes(perType), warnings, criteria };
}

function combineTypes(perType: Map<string, Filter[]>): Filter {
  const groups = new Map<string, { types: string[]; filters: Filter[] }>();
  for (const [type, filters] of perType) {
    const key = filterKey(filters);
    const group = groups.get(key);
    if (group) group.types.push(type);
    else groups.set(key, { types: [type], filters });
  }
  const branches = [...groups.values()].map(({ types, filters }) => ({
    type: types.length === 1 ? types[0] : { $in: types },
    ...(filters.length > 0 ? { $and: filters } : {}),
  }));
  return branches.length === 1 ? (branches[0] as Filter) : { $or: branches };
}
