/**
 * Typed access to the committed FHIR definitions in `fhir-definitions/` (see its README):
 * - `r4/resource-types.json`: every resource type this server knows (R4 plus the project's auth types);
 * - `r4/elements.json`: the element table (children, cardinality and types of every type and backbone element);
 * - `r4/search-parameters.json` and `project/search-parameters.json`: SearchParameter Bundles;
 * - `r4/compartmentdefinition-patient.json`: the R4 Patient compartment.
 *
 * Each file is read on first use and kept for the life of the process; importing this module reads nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, CompartmentDefinition, SearchParameter } from 'fhir/r4';
import { DEFINITIONS_DIR } from '../paths';

/** One child element of a type or backbone element, as stored in `elements.json`. */
export interface ElementInfo {
  /** Minimum cardinality; for a choice group (`value[x]`) and its variants it applies to the group. */
  readonly min: number;
  /** Maximum cardinality as in FHIR: `"1"`, `"*"` (or another number as text). Anything but `"1"` is an array. */
  readonly max: string;
  /** FHIR type codes (`string`, `HumanName`, `BackboneElement`, `Resource`, ...); one per choice variant. */
  readonly types: readonly string[];
  /** Table key holding this element's own children (inline BackboneElement/Element, or a contentReference). */
  readonly ref?: string;
  /** For a choice variant such as `valueQuantity`: the group it belongs to (`value[x]`). */
  readonly choice?: string;
  /** For Reference/canonical elements: the type names allowed as targets (`Patient`, `Resource`, ...). */
  readonly targets?: readonly string[];
}

/**
 * The element table: key is a type name (`Patient`, `HumanName`, `Extension`) or a backbone element path
 * (`Patient.link`, `AccessPolicy.rule`); value maps each child name as it appears in JSON (choice types
 * expanded, e.g. `valueQuantity`, plus the group itself, e.g. `value[x]`) to its {@link ElementInfo}.
 */
export type ElementTable = Readonly<Record<string, Readonly<Record<string, ElementInfo>>>>;

const PROJECT_TYPE_NAMES = ['ClientApplication', 'User', 'Membership', 'AccessPolicy', 'IdentityProvider', 'Project', 'ProjectSettings'] as const;

/** One of {@link PROJECT_RESOURCE_TYPES}. */
export type ProjectResourceType = (typeof PROJECT_TYPE_NAMES)[number];

/**
 * The auth resource types this project defines in `fhir-definitions/project/`, in the order
 * ClientApplication, User, Membership, AccessPolicy, IdentityProvider, Project, ProjectSettings.
 */
export const PROJECT_RESOURCE_TYPES: ReadonlySet<string> = new Set<string>(PROJECT_TYPE_NAMES);

/** A read-only set filled on first use, so importing this module reads no file. */
class LazySet implements ReadonlySet<string> {
  private loaded: Set<string> | undefined;

  constructor(private readonly load: () => Iterable<string>) {}

  private get set(): Set<string> {
    this.loaded ??= new Set(this.load());
    return this.loaded;
  }

  get size(): number {
    return this.set.size;
  }

  has(value: string): boolean {
    return this.set.has(value);
  }

  forEach(callback: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    this.set.forEach((value) => callback.call(thisArg, value, value, this));
  }

  entries(): SetIterator<[string, string]> {
    return this.set.entries();
  }

  keys(): SetIterator<string> {
    return this.set.keys();
  }

  values(): SetIterator<string> {
    return this.set.values();
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.set[Symbol.iterator]();
  }
}

/**
 * Every resource type the server accepts: the R4 resource types plus {@link PROJECT_RESOURCE_TYPES}
 * (read from `r4/resource-types.json` on first use).
 */
export const RESOURCE_TYPES: ReadonlySet<string> = new LazySet(() => readJson<string[]>('r4/resource-types.json'));

/** Resource types that are not DomainResources, so DomainResource search parameters (`_text`) do not apply. */
const NON_DOMAIN_RESOURCES: ReadonlySet<string> = new Set(['Binary', 'Bundle', 'Parameters']);

let elements: ElementTable | undefined;
let searchParametersByType: Map<string, readonly SearchParameter[]> | undefined;
let patientCompartment: CompartmentDefinition | undefined;
let patientCompartmentParams: Map<string, readonly string[]> | undefined;

/**
 * Tells whether a string names a resource type this server knows.
 * @param type - a candidate resource type, e.g. from a URL segment or a body's `resourceType`
 * @returns true for R4 resource types and the project's auth types
 */
export function isResourceType(type: string): boolean {
  return RESOURCE_TYPES.has(type);
}

/**
 * Tells whether a resource type is one of the project's auth types.
 * @param type - a resource type
 * @returns true for ClientApplication, User, Membership, AccessPolicy, IdentityProvider, Project and ProjectSettings
 */
export function isProjectResourceType(type: string): type is ProjectResourceType {
  return PROJECT_RESOURCE_TYPES.has(type);
}

/**
 * The element table built from the R4 snapshots and the project StructureDefinitions.
 * @returns the table, read once
 */
export function getElements(): ElementTable {
  elements ??= readJson<ElementTable>('r4/elements.json');
  return elements;
}

/**
 * The search parameters that apply to a resource type: those whose `base` names it, plus the `Resource`
 * ones (`_id`, `_lastUpdated`, ...) and, for DomainResources, the `DomainResource` ones (`_text`).
 * @param type - a resource type
 * @returns the parameters in definition order; empty for an unknown type
 */
export function getSearchParameters(type: string): readonly SearchParameter[] {
  searchParametersByType ??= indexSearchParameters();
  return searchParametersByType.get(type) ?? [];
}

/**
 * Finds one search parameter of a resource type by its code.
 * @param type - a resource type
 * @param code - the parameter code as used in a query string, e.g. `birthdate` or `_id`
 * @returns the parameter, or undefined when the type has none with that code
 */
export function getSearchParameter(type: string, code: string): SearchParameter | undefined {
  return getSearchParameters(type).find((param) => param.code === code);
}

/**
 * The R4 Patient CompartmentDefinition.
 * @returns the resource, read once
 */
export function getPatientCompartment(): CompartmentDefinition {
  patientCompartment ??= readJson<CompartmentDefinition>('r4/compartmentdefinition-patient.json');
  return patientCompartment;
}

/**
 * The search parameters that put a resource of the given type into a patient's compartment.
 * @param type - a resource type
 * @returns parameter codes (e.g. `['subject', 'performer']`, `['{def}']` for Patient itself); empty when
 *   resources of this type are never in a patient compartment
 */
export function getPatientCompartmentParams(type: string): readonly string[] {
  if (!patientCompartmentParams) {
    patientCompartmentParams = new Map();
    for (const entry of getPatientCompartment().resource ?? []) {
      patientCompartmentParams.set(entry.code, entry.param ?? []);
    }
  }
  return patientCompartmentParams.get(type) ?? [];
}

function indexSearchParameters(): Map<string, readonly SearchParameter[]> {
  const all = [
    ...bundleResources<SearchParameter>(readJson<Bundle>('r4/search-parameters.json')),
    ...bundleResources<SearchParameter>(readJson<Bundle>('project/search-parameters.json')),
  ];
  const hasBase = (param: SearchParameter, type: string): boolean => (param.base as readonly string[]).includes(type);
  const resourceLevel = all.filter((param) => hasBase(param, 'Resource'));
  const domainLevel = all.filter((param) => hasBase(param, 'DomainResource'));
  const index = new Map<string, readonly SearchParameter[]>();
  for (const type of RESOURCE_TYPES) {
    const own = all.filter((param) => hasBase(param, type));
    const inherited = NON_DOMAIN_RESOURCES.has(type) ? resourceLevel : [...resourceLevel, ...domainLevel];
    index.set(type, [...inherited, ...own]);
  }
  return index;
}

function bundleResources<T>(bundle: Bundle): T[] {
  return (bundle.entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource as T] : []));
}

function readJson<T>(relativePath: string): T {
  const file = path.join(DEFINITIONS_DIR, relativePath);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`Cannot read FHIR definitions from ${file} (run \`npm run build:definitions\`)`, { cause: err });
  }
}
