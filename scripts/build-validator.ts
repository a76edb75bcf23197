/**
 * Compiles the FHIR R4 JSON schema, merged with the project's resource schemas, into a standalone ajv 8
 * validator: `generated/r4-validator.js` (not committed; `npm run build` and `npm run build:validator` make it).
 *
 *   npm run build:validator
 *   npx tsx scripts/build-validator.ts <file>   # writes the validator elsewhere
 *
 * The module exports `validateResource(data)`, an ajv ValidateFunction for any resource: the root schema is a
 * `oneOf` over every resource type selected by a `discriminator` on `resourceType`, so only the matching
 * type's schema runs and its errors are reported. Preparing the schema for ajv:
 * - the draft-06 top-level `id` becomes `$id`, and ajv gets the draft-06 meta-schema;
 * - every `discriminator.mapping` is deleted (ajv derives the mapping from `oneOf` and rejects an explicit one);
 * - the base64Binary pattern `^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$` is replaced by `^[0-9a-zA-Z+/=\s]+$`: the
 *   original backtracks exponentially on strings such as `("AAAA  " x 20) + "!"` (ReDoS);
 * - the project definitions (fhir-definitions/project/fhir.schema.json) are added, and their four resource
 *   types join the root `oneOf` and `ResourceList` (contained resources, Bundle entries, Parameters);
 * - `ResourceList` gets the same discriminator, so a contained resource is checked against its own type only;
 * - `4.0.1` joins the FHIRVersion code lists (the R4 schema's stop at 4.0.0, rejecting R4's own
 *   `StructureDefinition.fhirVersion` and `CapabilityStatement.fhirVersion`);
 * - `description` annotations are dropped (they do not validate anything and would be copied into the code).
 * Compiled with `strict: false` (the R4 schema has keywords ajv's strict mode rejects), `allErrors: true`
 * (one issue per problem) and `discriminator: true`.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { PROJECT_RESOURCE_TYPES } from '../src/fhir/definitions';
import { DEFINITIONS_DIR, GENERATED_DIR } from '../src/paths';

/** Where `npm run build:validator` writes the validator module. */
export const VALIDATOR_FILE = path.join(GENERATED_DIR, 'r4-validator.js');

/** The FHIR version this server implements. */
const FHIR_VERSION = '4.0.1';

/** The base64Binary pattern of the R4 schema, which backtracks exponentially. */
export const UNSAFE_BASE64_PATTERN = '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$';
/** The linear-time replacement: the same alphabet, without the four-character grouping. */
export const SAFE_BASE64_PATTERN = '^[0-9a-zA-Z+/=\\s]+$';

interface SchemaDocument {
  id?: string;
  $id?: string;
  oneOf: Array<{ $ref: string }>;
  discriminator?: { propertyName: string; mapping?: unknown };
  definitions: Record<string, Record<string, unknown>>;
}

/**
 * Builds the merged, ajv-ready schema from the committed definitions.
 * @returns the schema and the number of base64Binary patterns replaced
 */
export function prepareSchema(): { schema: SchemaDocument; base64Replaced: number } {
  const schema = readJson<SchemaDocument>(path.join(DEFINITIONS_DIR, 'r4', 'fhir.schema.json'));
  const projectFile = path.join(DEFINITIONS_DIR, 'project', 'fhir.schema.json');
  const project = readJson<Pick<SchemaDocument, 'definitions'>>(projectFile);
  schema.$id = schema.id;
  delete schema.id;

  for (const [name, definition] of Object.entries(project.definitions)) {
    if (name in schema.definitions) {
      throw new Error(`Project schema redefines ${name}`);
    }
    schema.definitions[name] = definition;
  }
  const resourceList = schema.definitions.ResourceList as Pick<SchemaDocument, 'oneOf' | 'discriminator'> | undefined;
  if (!resourceList) {
    throw new Error('R4 schema has no ResourceList definition');
  }
  for (const type of PROJECT_RESOURCE_TYPES) {
    schema.oneOf.push({ $ref: `#/definitions/${type}` });
    resourceList.oneOf.push({ $ref: `#/definitions/${type}` });
  }
  resourceList.discriminator = { propertyName: 'resourceType' };

  let base64Replaced = 0;
  walk(schema, (node) => {
    const discriminator = node.discriminator as { mapping?: unknown } | undefined;
    if (discriminator && typeof discriminator === 'object') {
      delete discriminator.mapping;
    }
    // Documentation only; dropping it keeps the schema copies embedded in the generated code small.
    if (typeof node.description === 'string') {
      delete node.description;
    }
    // The R4 schema's FHIRVersion code list stops at 4.0.0, so it rejects R4's own version.
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes(FHIR_VERSION)) {
      node.enum.push(FHIR_VERSION);
    }
    if (node.pattern === UNSAFE_BASE64_PATTERN) {
      node.pattern = SAFE_BASE64_PATTERN;
      base64Replaced += 1;
    }
  });
  if (base64Replaced === 0) {
    throw new Error('R4 schema has no base64Binary pattern to replace: has its source changed?');
  }
  return { schema, base64Replaced };
}

/**
 * Compiles the merged schema and writes the standalone validator module.
 * @param outFile - where to write the CommonJS module
 * @returns the size of the module in bytes and how long compiling took
 */
export function buildValidator(outFile: string = VALIDATOR_FILE): { bytes: number; compileMs: number } {
  const started = Date.now();
  const { schema } = prepareSchema();
  const ajv = new Ajv({ strict: false, allErrors: true, discriminator: true, code: { source: true } });
  ajv.addMetaSchema(readJson(require.resolve('ajv/dist/refs/json-schema-draft-06.json')));
  ajv.addSchema(schema);
  if (!schema.$id || !ajv.getSchema(schema.$id)) {
    throw new Error('The merged FHIR schema did not compile');
  }
  const code = standaloneCode(ajv, { validateResource: schema.$id });
  const header = '// Generated by scripts/build-validator.ts from fhir-definitions/. Do not edit: `npm run build`.\n';
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, header + code);
  return { bytes: Buffer.byteLength(header + code), compileMs: Date.now() - started };
}

function walk(node: unknown, visit: (node: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    node.forEach((item) => walk(item, visit));
  } else if (node !== null && typeof node === 'object') {
    visit(node as Record<string, unknown>);
    Object.values(node).forEach((child) => walk(child, visit));
  }
}

function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

if (require.main === module) {
  const outFile = process.argv[2] ? path.resolve(process.argv[2]) : VALIDATOR_FILE;
  const { bytes, compileMs } = buildValidator(outFile);
  console.log(`wrote ${path.relative(process.cwd(), outFile)} (${bytes} bytes) in ${compileMs} ms`);
}
