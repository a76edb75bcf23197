/**
 * The kick-off request of a Bulk Data export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#query-parameters):
 * its parameters from the URL (GET and POST) and from a `Parameters` body (POST), checked before any job exists.
 * - `Prefer: respond-async` is required (400 otherwise);
 * - `_outputFormat`: `application/fhir+ndjson`, `application/ndjson` or `ndjson` (400 otherwise);
 * - `_since`: a FHIR instant; `_type`: resource types (comma-separated and/or repeated);
 * - `_typeFilter`: `[type]?[search query]`, searched by the normal search engine (result controls refused);
 * - `patient` (POST, patient and group level): `Patient/[id]` references;
 * - `includeAssociatedData`: no value is supported;
 * - any other parameter (`_elements`, `organizeOutputBy`, `allowPartialManifests`, ...) is refused with 400,
 *   unless `Prefer: handling=lenient`: the server then ignores it and names it in the manifest's error file.
 */
import type { Parameters, ParametersParameter } from 'fhir/r4';
import { isResourceType } from '../definitions';
import { BadRequestError } from '../errors';
import { isValidId } from '../repository/repository';
import { isControlParameter } from '../search/parse-request';
import type { FhirRequest } from '../rest/fhir-request';

export type { ExportLevel, ExportRequest, TypeFilter } from '../../bulk/export-jobs';
import type { ExportLevel, ExportRequest, TypeFilter } from '../../bulk/export-jobs';

/** Output formats accepted by `_outputFormat`; every one means FHIR NDJSON. */
export const OUTPUT_FORMATS: readonly string[] = ['application/fhir+ndjson', 'application/ndjson', 'ndjson'];
/** Most `_typeFilter` queries and `patient` references one kick-off may carry (each filter is a search per page). */
export const MAX_TYPE_FILTERS = 50;
export const MAX_PATIENTS = 1000;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const PATIENT_REFERENCE = /^Patient\/([^/?#]+)$/;

/**
 * Whether the request's Prefer header asks for `respond-async`.
 * @param prefer - the Prefer header
 * @returns true when present
 */
export function prefersAsync(prefer: string | undefined): boolean {
  return /(?:^|[,;\s])respond-async(?:$|[,;\s])/i.test(prefer ?? '');
}

/**
 * Whether the request's Prefer header asks for lenient handling.
 * @param prefer - the Prefer header
 * @returns true for `handling=lenient`
 */
export function prefersLenient(prefer: string | undefined): boolean {
  return /(?:^|[,;\s])handling=lenient\b/i.test(prefer ?? '');
}

/** A parameter's name, its value as text and where it came from (for messages). */
interface RawParameter {
  name: string;
  value: string;
  at: string;
}

function parameterText(parameter: ParametersParameter, at: string): string {
  if (parameter.valueReference?.reference !== undefined) return parameter.valueReference.reference;
  for (const key of ['valueString', 'valueCode', 'valueInstant', 'valueDateTime', 'valueUri', 'valueUrl', 'valueId'] as const) {
    const value = parameter[key];
    if (typeof value === 'string') return value;
  }
  throw new BadRequestError(`Parameter '${String(parameter.name)}' needs a string, code, instant or reference value`, [at]);
}

function bodyParameters(body: unknown): RawParameter[] {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return [];
  const input = body as Parameters;
  if (typeof body !== 'object' || input.resourceType !== 'Parameters') throw new BadRequestError('The body of a POST $export must be a Parameters resource', undefined, 'structure');
  const list = Array.isArray(input.parameter) ? input.parameter : [];
  return list.map((parameter, i) => {
    const at = `Parameters.parameter[${i}]`;
    if (typeof parameter.name !== 'string') throw new BadRequestError('Every parameter needs a name', [at]);
    return { name: parameter.name, value: parameterText(parameter, at), at };
  });
}

function splitList(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function parseTypeFilter(value: string, at: string, lenient: boolean): TypeFilter {
  const question = value.indexOf('?');
  const type = question < 0 ? value : value.slice(0, question);
  if (!isResourceType(type)) throw new BadRequestError(`_typeFilter '${value}' does not start with a resource type and '?'`, [at]);
  const query = [...new URLSearchParams(question < 0 ? '' : value.slice(question + 1)).entries()];
  for (const [name] of query) {
    // Result controls change what a search returns, not which resources match; they have no place in an export.
    if (isControlParameter(name.split(':')[0] ?? name) && !lenient) throw new BadRequestError(`_typeFilter '${value}': '${name}' is not a search criterion`, [at]);
  }
  return { type, query: query.filter(([name]) => !isControlParameter(name.split(':')[0] ?? name)) };
}

/**
 * Reads and checks the kick-off parameters.
 * @param req - the request
 * @param level - the export level
 * @param groupId - the Group of a group-level export
 * @returns the export request
 * @throws BadRequestError (400 OperationOutcome) for anything the server does not support
 */
export function parseExportRequest(req: FhirRequest, level: ExportLevel, groupId?: string): ExportRequest {
  if (!prefersAsync(req.headers.prefer)) throw new BadRequestError('A bulk export needs the header Prefer: respond-async', undefined, 'required');
  const lenient = prefersLenient(req.headers.prefer);
  const raw: RawParameter[] = [
    ...req.query.map(([name, value]) => ({ name, value, at: name })),
    ...(req.method === 'POST' ? bodyParameters(req.body) : []),
  ];
  const result: ExportRequest = { level, typeFilters: [], ignored: [] };
  if (groupId !== undefined) result.groupId = groupId;
  const unsupported = (parameter: RawParameter, why: string): void => {
    if (!lenient) throw new BadRequestError(`${why} (send Prefer: handling=lenient to have it ignored)`, [parameter.at], 'not-supported');
    result.ignored.push(`${parameter.name}: ${why}`);
  };
  for (const parameter of raw) {
    const { name, value, at } = parameter;
    switch (name) {
      case '_outputFormat':
        if (!OUTPUT_FORMATS.includes(value.trim().toLowerCase())) throw new BadRequestError(`_outputFormat '${value}' is not supported; use application/fhir+ndjson`, [at], 'not-supported');
        break;
      case '_since':
        if (!INSTANT.test(value) || Number.isNaN(Date.parse(value))) throw new BadRequestError(`_since '${value}' is not a FHIR instant (e.g. 2024-01-01T00:00:00Z)`, [at]);
        if (result.since !== undefined) throw new BadRequestError('_since may be given once', [at]);
        result.since = new Date(value).toISOString();
        break;
      case '_type':
        for (const type of splitList(value)) {
          if (!isResourceType(type)) {
            unsupported(parameter, `_type '${type}' is not a resource type`);
            continue;
          }
          result.types = [...(result.types ?? []), ...(result.types?.includes(type) ? [] : [type])];
        }
        break;
      case '_typeFilter':
        // GET repeats the parameter; a comma separates queries only when no query holds one (they are escaped).
        for (const one of value.includes('?') && value.split('?').length > 2 ? value.split(/,(?=[A-Z][A-Za-z]+\?)/) : [value]) {
          result.typeFilters.push(parseTypeFilter(one.trim(), at, lenient));
        }
        break;
      case 'patient': {
        if (req.method !== 'POST' || at === name) throw new BadRequestError('patient is a parameter of POST $export (in the Parameters body)', [at]);
        if (level === 'system') throw new BadRequestError('patient applies to Patient/$export and Group/[id]/$export only', [at]);
        const id = PATIENT_REFERENCE.exec(value)?.[1];
        if (id === undefined || !isValidId(id)) throw new BadRequestError(`patient '${value}' is not a reference Patient/[id]`, [at]);
        result.patients = [...(result.patients ?? []), id];
        break;
      }
      case 'includeAssociatedData':
        unsupported(parameter, `includeAssociatedData '${value}' is not supported`);
        break;
      default:
        unsupported(parameter, `Parameter '${name}' is not supported by $export`);
    }
  }
  if (result.typeFilters.length > MAX_TYPE_FILTERS) throw new BadRequestError(`At most ${MAX_TYPE_FILTERS} _typeFilter queries are accepted`, ['_typeFilter'], 'too-costly');
  if ((result.patients?.length ?? 0) > MAX_PATIENTS) throw new BadRequestError(`At most ${MAX_PATIENTS} patient parameters are accepted; export a Group instead`, ['patient'], 'too-costly');
  if (result.types) {
    for (const filter of result.typeFilters) {
      if (!result.types.includes(filter.type)) throw new BadRequestError(`_typeFilter names ${filter.type}, which _type does not list`, ['_typeFilter']);
    }
  }
  return result;
}
