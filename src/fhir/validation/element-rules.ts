/**
 * Checks a resource against the element table (`fhir-definitions/r4/elements.json`) for what the R4 JSON schema
 * cannot express:
 * - required elements (min >= 1), recursively: inside BackboneElements, datatypes (`Extension.url`), contained
 *   resources and Bundle entries, only where the parent is present, per item for repeating parents. A primitive
 *   counts as present when its value or its `_element` extension is; a required choice when one variant is.
 * - JSON shape of complex elements: the schema's datatype definitions have no `type: object`, so it accepts a
 *   string or an array where a HumanName or CodeableConcept belongs.
 * - whole numbers and ranges of integer, positiveInt and unsignedInt (the schema types them as `number`).
 *
 * The rules are derived from the table once, on first use; checking walks only what the resource contains.
 */
import type { Issue } from '../errors';
import { getElements } from '../definitions';

/** How to check one child element. */
export interface ChildRule {
  /** FHIR type code of the element (the variant's type for a choice variant). */
  readonly type: string;
  /** Whether the element repeats (JSON array). */
  readonly array: boolean;
  /** Rules for the members of an object value; undefined for primitives. */
  readonly key?: string;
  /** Whether the value is a resource (contained, Bundle entry): checked by its own `resourceType`. */
  readonly resource: boolean;
  /** Inclusive range of a whole-number primitive. */
  readonly range?: readonly [number, number];
  /** Whether items may be null: `_given: [null, {...}]` keeps extensions aligned with a primitive array. */
  readonly nullable?: boolean;
}

/** Everything to check in one type or backbone element. */
export interface TypeRules {
  readonly children: ReadonlyMap<string, ChildRule>;
  /** Required children: the label used in messages and the JSON names any one of which satisfies it. */
  readonly required: ReadonlyArray<{ readonly label: string; readonly names: readonly string[] }>;
}

const INT32_MAX = 2147483647;
const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  integer: [-INT32_MAX - 1, INT32_MAX],
  unsignedInt: [0, INT32_MAX],
  positiveInt: [1, INT32_MAX],
};
/** The `_element` sibling of a primitive, holding its id and extensions. */
const ELEMENT_RULE: ChildRule = { type: 'Element', array: false, key: 'Element', resource: false };
const ELEMENT_ARRAY_RULE: ChildRule = { ...ELEMENT_RULE, array: true, nullable: true };

let rulesByKey: Map<string, TypeRules> | undefined;

/**
 * The rules of a type or backbone element, derived from the element table on first use.
 * @param key - a type name (`Patient`, `HumanName`) or backbone path (`Patient.link`)
 * @returns the rules, or undefined for an unknown key
 */
export function getTypeRules(key: string): TypeRules | undefined {
  rulesByKey ??= buildRules();
  return rulesByKey.get(key);
}

/**
 * Checks an object against the rules of its type, adding one issue per problem.
 * @param value - the object (a resource, datatype value or backbone element)
 * @param rules - the rules of its type
 * @param expression - its FHIRPath location, e.g. `Patient.link[0]`
 * @param issues - where problems are added
 */
export function checkElements(
  value: Record<string, unknown>,
  rules: TypeRules,
  expression: string,
  issues: Issue[],
): void {
  for (const requirement of rules.required) {
    if (!requirement.names.some((name) => isPresent(value[name]))) {
      const location = `${expression}.${requirement.label}`;
      issues.push({
        severity: 'error',
        code: 'required',
        diagnostics: `Missing required element ${location}`,
        expression: [location],
      });
    }
  }
  for (const name of Object.keys(value)) {
    const rule = rules.children.get(name);
    const child = value[name];
    if (!rule) {
      continue;
    }
    if (!rule.array) {
      checkValue(child, rule, `${expression}.${name}`, issues);
    } else if (Array.isArray(child)) {
      // Non-arrays are reported by the JSON schema.
      child.forEach((item, index) => checkValue(item, rule, `${expression}.${name}[${index}]`, issues));
    }
  }
}

/**
 * Tells whether a JSON value is a plain object (not null, not an array).
 * @param value - any JSON value
 * @returns true for `{...}`
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkValue(value: unknown, rule: ChildRule, expression: string, issues: Issue[]): void {
  if (rule.range) {
    checkWholeNumber(value, rule.type, rule.range, expression, issues);
    return;
  }
  if (!rule.key && !rule.resource) {
    return;
  }
  if (value === null && rule.nullable) {
    return;
  }
  if (!isPlainObject(value)) {
    issues.push({
      severity: 'error',
      code: 'structure',
      diagnostics: `Invalid value for ${expression}: expected ${rule.type} (a JSON object)`,
      expression: [expression],
    });
    return;
  }
  const resourceType = value.resourceType;
  const rules = rule.resource
    ? typeof resourceType === 'string'
      ? getTypeRules(resourceType)
      : undefined
    : getTypeRules(rule.key ?? '');
  if (rules) {
    checkElements(value, rules, expression, issues);
  }
}

function checkWholeNumber(
  value: unknown,
  type: string,
  [min, max]: readonly [number, number],
  expression: string,
  issues: Issue[],
): void {
  // Non-numbers are reported by the JSON schema.
  if (typeof value === 'number' && !(Number.isInteger(value) && value >= min && value <= max)) {
    issues.push({
      severity: 'error',
      code: 'value',
      diagnostics: `Invalid value for ${expression}: expected ${type} (a whole number from ${min} to ${max})`,
      expression: [expression],
    });
  }
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

function isPrimitive(type: string): boolean {
  const first = type[0];
  return first !== undefined && first === first.toLowerCase();
}

function buildRules(): Map<string, TypeRules> {
  const table = getElements();
  const result = new Map<string, TypeRules>();
  for (const [key, elements] of Object.entries(table)) {
    const children = new Map<string, ChildRule>();
    const required: Array<{ label: string; names: string[] }> = [];
    for (const [name, element] of Object.entries(elements)) {
      if (name.endsWith('[x]')) {
        if (element.min >= 1) {
          const variants = Object.entries(elements).filter(([, e]) => e.choice === name);
          required.push({
            label: name,
            names: variants.flatMap(([variant, e]) =>
              isPrimitive(e.types[0] ?? '') ? [variant, `_${variant}`] : [variant],
            ),
          });
        }
        continue;
      }
      const type = element.types[0] ?? 'string';
      const array = element.max !== '1';
      const primitive = isPrimitive(type);
      if (primitive) {
        children.set(name, { type, array, resource: false, range: INTEGER_RANGES[type] });
        children.set(`_${name}`, array ? ELEMENT_ARRAY_RULE : ELEMENT_RULE);
      } else {
        const childKey = element.ref ?? (type in table ? type : undefined);
        children.set(name, { type, array, key: childKey, resource: type === 'Resource' });
      }
      if (element.min >= 1 && !element.choice) {
        required.push({ label: name, names: primitive ? [name, `_${name}`] : [name] });
      }
    }
    result.set(key, { children, required });
  }
  return result;
}
