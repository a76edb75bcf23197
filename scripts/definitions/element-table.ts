/**
 * Builds the element table (`elements.json`, shape in src/fhir/definitions.ts#ElementTable) from
 * StructureDefinition snapshots, and aligns it with the JSON schema so that both agree on element names.
 */
import type { ElementDefinition, ElementDefinitionType, StructureDefinition } from 'fhir/r4';
import type { ElementInfo } from '../../src/fhir/definitions';

/** A mutable element table while it is being built. */
export type MutableElementTable = Record<string, Record<string, ElementInfo>>;

/** The parts of a draft-06 JSON schema the cross-check reads. */
export interface JsonSchemaDocument {
  definitions: Record<string, JsonSchemaDefinition>;
}

/** One entry of a JSON schema's `definitions`. */
export interface JsonSchemaDefinition {
  properties?: Record<string, JsonSchemaProperty>;
  required?: string[];
}

interface JsonSchemaProperty {
  $ref?: string;
  type?: string;
  pattern?: string;
  enum?: unknown[];
  items?: { $ref?: string };
}

const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const SYSTEM_TYPE_PREFIX = 'http://hl7.org/fhirpath/System.';

/**
 * Adds the children of every type and backbone element described by a snapshot to the table.
 * @param table - the table to fill; keys already present are replaced
 * @param typeName - the type the snapshot defines (its root path)
 * @param snapshot - snapshot elements, root first
 * @param isResource - whether the type is a resource: its `id` is then typed `id`, as the specification and the
 *   JSON schema say (the R4 snapshots give `Resource.id` the FHIRPath type String annotated as `string`)
 */
export function addSnapshot(
  table: MutableElementTable,
  typeName: string,
  snapshot: readonly ElementDefinition[],
  isResource: boolean,
): void {
  const byPath = new Map(snapshot.map((el) => [el.path, el]));
  const parents = new Set(snapshot.map((el) => parentPath(el.path)));
  table[typeName] = {};
  for (const el of snapshot) {
    const parent = parentPath(el.path);
    if (parent === undefined) {
      continue;
    }
    const children = (table[parent] ??= {});
    const name = el.path.slice(parent.length + 1);
    let typeList: readonly ElementDefinitionType[] = el.type ?? [];
    let ref: string | undefined;
    if (el.contentReference) {
      ref = el.contentReference.slice(el.contentReference.indexOf('#') + 1);
      typeList = byPath.get(ref)?.type ?? [];
    } else if (parents.has(el.path)) {
      ref = el.path;
    }
    const min = el.min ?? 0;
    const max = el.max ?? '1';
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      children[name] = info(min, max, typeList.map(typeCode), undefined, undefined, targetsOf(typeList));
      for (const type of typeList) {
        const code = typeCode(type);
        children[`${base}${code[0]?.toUpperCase() ?? ''}${code.slice(1)}`] = info(
          min,
          max,
          [code],
          undefined,
          name,
          targetsOf([type]),
        );
      }
    } else if (isResource && parent === typeName && name === 'id') {
      children[name] = info(min, max, ['id'], undefined, undefined, undefined);
    } else {
      children[name] = info(min, max, typeList.map(typeCode), ref, undefined, targetsOf(typeList));
    }
  }
}

/**
 * Builds the snapshot of a specialization of DomainResource from its differential: the DomainResource
 * elements re-rooted at the new type, the differential elements, and the standard `id`/`extension`/
 * `modifierExtension` children of each BackboneElement the differential declares.
 * @param sd - a StructureDefinition with `derivation: specialization` and a differential
 * @param domainResource - the R4 DomainResource StructureDefinition (with snapshot)
 * @param backboneElement - the R4 BackboneElement StructureDefinition (with snapshot)
 * @returns the snapshot elements, root first
 */
export function specializationSnapshot(
  sd: StructureDefinition,
  domainResource: StructureDefinition,
  backboneElement: StructureDefinition,
): ElementDefinition[] {
  const rebase = (el: ElementDefinition, from: string, to: string): ElementDefinition => ({
    ...el,
    id: `${to}${el.path.slice(from.length)}`,
    path: `${to}${el.path.slice(from.length)}`,
  });
  const result = (domainResource.snapshot?.element ?? []).map((el) => rebase(el, 'DomainResource', sd.type));
  const backboneChildren = (backboneElement.snapshot?.element ?? []).filter((el) => el.path.includes('.'));
  for (const el of sd.differential?.element ?? []) {
    if (el.path === sd.type) {
      continue;
    }
    result.push(el);
    if (el.type?.some((t) => t.code === 'BackboneElement')) {
      result.push(...backboneChildren.map((child) => rebase(child, 'BackboneElement', el.path)));
    }
  }
  return result;
}

/** What aligning the table with the JSON schema changed (`changes`) or could not resolve (`problems`). */
export interface SchemaAlignment {
  changes: string[];
  problems: string[];
}

/**
 * Aligns the element table with the JSON schema, which is authoritative for R4 element names and types
 * (the snapshots come from a package that adds a few non-R4 elements, e.g. `Meta.project`, and backports
 * some R5 content). Within each type or backbone element reached from `roots`:
 * - a child the schema lacks is dropped (with a choice variant, its type leaves the group);
 * - a schema property the table lacks is added: a choice variant when its name is a group's base plus its
 *   type, otherwise `min` from the schema's `required`, `max` from `type: array`, `types` from `$ref`;
 * - a child's type, array-ness and (for complex non-choice children) `min >= 1` follow the schema.
 * Primitive extensions (`_x`) and `resourceType` are schema-only by design; choice groups are table-only.
 * @param table - the element table, changed in place
 * @param schema - the JSON schema holding `definitions`
 * @param roots - type names to start from, each a schema definition of the same name
 * @returns the changes made and the disagreements left (a backbone element the schema does not reference)
 */
export function alignWithSchema(
  table: MutableElementTable,
  schema: JsonSchemaDocument,
  roots: readonly string[],
): SchemaAlignment {
  const result: SchemaAlignment = { changes: [], problems: [] };
  const visited = new Set<string>();
  const align = (key: string, definitionName: string): void => {
    if (visited.has(key)) {
      return;
    }
    visited.add(key);
    const definition = schema.definitions[definitionName] ?? {};
    const children = (table[key] ??= {});
    alignChildren(key, children, definition, schema.definitions, result);
    for (const [name, child] of Object.entries(children)) {
      const property = definition.properties?.[name];
      if (!child.ref || !property) {
        continue;
      }
      const target = refName(property);
      if (target === undefined) {
        result.problems.push(`schema ${definitionName}.${name} does not reference a definition for ${child.ref}`);
      } else {
        align(child.ref, target);
      }
    }
  };
  for (const root of roots) {
    align(root, root);
  }
  return result;
}

function alignChildren(
  key: string,
  children: Record<string, ElementInfo>,
  definition: JsonSchemaDefinition,
  definitions: JsonSchemaDocument['definitions'],
  result: SchemaAlignment,
): void {
  const properties = definition.properties ?? {};
  const required = new Set(definition.required ?? []);
  for (const [name, child] of Object.entries(children)) {
    if (name.endsWith('[x]')) {
      continue;
    }
    const property = properties[name];
    if (!property) {
      delete children[name];
      removeVariant(children, child);
      result.changes.push(`dropped ${key}.${name} (not in the JSON schema)`);
      continue;
    }
    const schemaType = child.ref ? undefined : typeOfProperty(property);
    const max = property.type === 'array' ? (child.max === '1' ? '*' : child.max) : '1';
    const complex = !isPrimitive(child.types[0] ?? '') && !child.choice;
    const min = complex ? (required.has(name) ? Math.max(child.min, 1) : 0) : child.min;
    const types = schemaType && schemaType !== child.types[0] ? [schemaType] : child.types;
    if (types !== child.types || max !== child.max || min !== child.min) {
      children[name] = { ...child, min, max, types };
      result.changes.push(
        `changed ${key}.${name} from ${describe(child)} to ${describe({ min, max, types })} (as in the JSON schema)`,
      );
    }
  }
  for (const [name, property] of Object.entries(properties)) {
    if (name.startsWith('_') || name === 'resourceType' || name in children) {
      continue;
    }
    const target = refName(property);
    if (target?.includes('_')) {
      result.problems.push(`schema backbone ${name} (${target}) has no StructureDefinition element under ${key}`);
      continue;
    }
    const group = Object.keys(children).find((g) => g.endsWith('[x]') && isVariantName(name, g.slice(0, -3)));
    const groupInfo = group ? children[group] : undefined;
    // Inline schema properties are primitives (named after the type in a choice) or code enums.
    const type = typeOfProperty(property) ?? inlinePrimitiveType(property, definitions);
    if (group && groupInfo) {
      children[group] = { ...groupInfo, types: [...groupInfo.types, type] };
      children[name] = info(groupInfo.min, groupInfo.max, [type], undefined, group, undefined);
    } else {
      const min = required.has(name) ? 1 : 0;
      children[name] = info(min, property.type === 'array' ? '*' : '1', [type], undefined, undefined, undefined);
    }
    result.changes.push(`added ${key}.${name} ${describe(children[name])} (from the JSON schema)`);
  }
}

function isVariantName(name: string, base: string): boolean {
  const first = name[base.length];
  return name.startsWith(base) && first !== undefined && first >= 'A' && first <= 'Z';
}

function removeVariant(children: Record<string, ElementInfo>, variant: ElementInfo): void {
  const group = variant.choice ? children[variant.choice] : undefined;
  if (!variant.choice || !group) {
    return;
  }
  const types = group.types.filter((type) => type !== variant.types[0]);
  if (types.length === 0) {
    delete children[variant.choice];
  } else {
    children[variant.choice] = { ...group, types };
  }
}

/** Primitive types in the order they are tried when an inline schema property's pattern fits several. */
const PRIMITIVE_PREFERENCE = [
  'string', 'uri', 'code', 'id', 'dateTime', 'date', 'instant', 'time', 'boolean', 'decimal', 'integer',
  'positiveInt', 'unsignedInt', 'base64Binary', 'oid', 'uuid', 'markdown', 'canonical', 'url',
];

/**
 * The type of an inline schema property (the schema inlines primitive choice variants and code enums).
 * @param property - a property without `$ref`
 * @param definitions - the schema definitions holding the primitive types
 * @returns the first primitive type with the same pattern and JSON type; `code` for an enum or no match
 */
function inlinePrimitiveType(property: JsonSchemaProperty, definitions: JsonSchemaDocument['definitions']): string {
  const match = PRIMITIVE_PREFERENCE.find((name) => {
    const primitive = definitions[name] as JsonSchemaProperty | undefined;
    return !property.enum && primitive?.pattern === property.pattern && primitive?.type === property.type;
  });
  return match ?? 'code';
}

/** The FHIR type a schema property names by `$ref`; undefined for inline primitives and code enums. */
function typeOfProperty(property: JsonSchemaProperty): string | undefined {
  const name = refName(property);
  return name === 'ResourceList' ? 'Resource' : name;
}

function refName(property: JsonSchemaProperty): string | undefined {
  return (property.$ref ?? property.items?.$ref)?.split('/').pop();
}

function isPrimitive(type: string): boolean {
  return type !== '' && type[0] === type[0]?.toLowerCase();
}

function describe(element: Pick<ElementInfo, 'min' | 'max' | 'types'> | undefined): string {
  return element ? `${element.min}..${element.max} ${element.types.join('|')}` : '?';
}

/**
 * Declares a choice group over children that are already in the table as separate elements (the snapshot
 * source backports some R5 content where R4 has a choice, e.g. `EvidenceVariable.characteristic.definition[x]`).
 * @param table - the element table, changed in place
 * @param key - the type or backbone element key
 * @param group - the group name, e.g. `definition[x]`
 * @param min - the group's minimum cardinality
 * @returns a description of the change, or undefined when the table has no variant of the group
 */
export function declareChoiceGroup(
  table: MutableElementTable,
  key: string,
  group: string,
  min: number,
): string | undefined {
  const children = table[key];
  const base = group.slice(0, -3);
  const variants = Object.keys(children ?? {}).filter((name) => isVariantName(name, base) && name !== group);
  if (!children || variants.length === 0) {
    return undefined;
  }
  const types = variants.map((name) => children[name]?.types[0] ?? 'code');
  children[group] = info(min, '1', types, undefined, undefined, undefined);
  for (const name of variants) {
    const variant = children[name];
    if (variant) {
      const targets = variant.targets ? [...variant.targets] : undefined;
      children[name] = info(min, '1', [...variant.types], undefined, group, targets);
    }
  }
  return `declared ${key}.${group} ${min}..1 over ${variants.join(', ')} (as in R4)`;
}

function info(
  min: number,
  max: string,
  types: string[],
  ref: string | undefined,
  choice: string | undefined,
  targets: string[] | undefined,
): ElementInfo {
  // Fixed key order keeps elements.json byte-stable; absent optional keys are dropped by the formatter.
  return { min, max, types, ref, choice, targets };
}

function parentPath(path: string): string | undefined {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? undefined : path.slice(0, dot);
}

function typeCode(type: ElementDefinitionType): string {
  if (!type.code.startsWith(SYSTEM_TYPE_PREFIX)) {
    return type.code;
  }
  // Element.id, Extension.url, Resource.id...: FHIRPath system types annotated with the FHIR type they stand for.
  const fhirType = type.extension?.find((ext) => ext.url === FHIR_TYPE_EXTENSION)?.valueUrl;
  return fhirType ?? 'string';
}

function targetsOf(types: readonly ElementDefinitionType[]): string[] | undefined {
  const targets = types.flatMap((type) => type.targetProfile ?? []).map((url) => url.slice(url.lastIndexOf('/') + 1));
  return targets.length > 0 ? targets : undefined;
}
