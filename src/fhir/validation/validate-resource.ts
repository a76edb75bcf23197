/**
 * Validates a FHIR resource (R4 or one of the project's auth types) before it is stored.
 *
 * 1. The precompiled JSON-schema validator `generated/r4-validator.js` (scripts/build-validator.ts) checks
 *    structure, unknown elements, primitive formats and code enums. Each ajv error becomes one issue with a
 *    FHIRPath `expression` (`Patient.name[0].given[1]`); per location only the most telling error is kept
 *    (a wrong JSON type hides the pattern mismatch it implies).
 * 2. element-rules.ts checks what the schema cannot: required elements recursively, the JSON shape of
 *    complex elements and whole-number ranges; a location the schema already reported is not reported twice.
 *
 * Issue codes (https://hl7.org/fhir/R4/valueset-issue-type.html): `structure` for unknown elements and
 * wrong shapes, `required` for missing required elements, `value` for bad primitive values and codes,
 * `invalid` otherwise. Diagnostics never echo the submitted value (it may be a secret or a password).
 *
 * No schema is compiled and no file is read per call: the validator module and the element rules are loaded
 * once (call {@link preloadResourceValidator} at start-up to do it before the first request).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { GENERATED_DIR } from '../../paths';
import { isResourceType } from '../definitions';
import type { Issue, IssueCode } from '../errors';
import { checkElements, getTypeRules, isPlainObject, type ChildRule } from './element-rules';

/** The standalone validator module written by scripts/build-validator.ts. */
export const VALIDATOR_MODULE = path.join(GENERATED_DIR, 'r4-validator.js');

/** Lower ranks win when several errors point at the same location. */
const RANK: Readonly<Record<string, number>> = {
  required: 0,
  discriminator: 1,
  additionalProperties: 1,
  type: 2,
  enum: 3,
  const: 3,
  pattern: 4,
};

const JSON_KINDS: Readonly<Record<string, string>> = {
  string: 'a JSON string',
  number: 'a JSON number',
  boolean: 'a JSON boolean',
  array: 'a JSON array',
  object: 'a JSON object',
};

let validator: ValidateFunction | undefined;

/**
 * Validates a resource against the R4 JSON schema and the element table.
 * @param resource - the parsed JSON body, `resourceType` included
 * @returns one issue per problem (severity error); empty when the resource is valid
 */
export function validateResource(resource: Record<string, unknown>): Issue[] {
  const resourceType = resource.resourceType;
  if (typeof resourceType !== 'string') {
    return [issue('required', 'Missing resourceType', 'resourceType')];
  }
  if (!isResourceType(resourceType)) {
    return [issue('structure', `Unknown resource type '${resourceType}'`, 'resourceType')];
  }
  const validate = loadValidator();
  const issues = validate(resource) ? [] : mapAjvErrors(validate.errors ?? [], resource, resourceType);
  const rules = getTypeRules(resourceType);
  if (rules) {
    const reported = new Set(issues.flatMap((i) => i.expression ?? []));
    const found: Issue[] = [];
    checkElements(resource, rules, resourceType, found);
    issues.push(...found.filter((i) => !(i.expression ?? []).some((e) => reported.has(e))));
  }
  return issues;
}

/**
 * Loads the validator module and derives the element rules now rather than on the first validation.
 * @throws Error when `generated/r4-validator.js` is missing (run `npm run build`)
 */
export function preloadResourceValidator(): void {
  loadValidator();
  getTypeRules('Resource');
}

function loadValidator(): ValidateFunction {
  if (validator) {
    return validator;
  }
  if (!fs.existsSync(VALIDATOR_MODULE)) {
    throw new Error(
      `The FHIR validator ${VALIDATOR_MODULE} has not been built: ` +
        'run `npm run build` (or `npm run build:validator`)',
    );
  }
  // Node's own loader, not the module registry of whatever loaded this file (a test runner keeps one per test
  // file): the 7.5 MB module is pure and is compiled once per process.
  const loaded = createRequire(__filename)(VALIDATOR_MODULE) as { validateResource?: ValidateFunction };
  if (typeof loaded.validateResource !== 'function') {
    throw new Error(`${VALIDATOR_MODULE} does not export validateResource: rebuild it with \`npm run build\``);
  }
  validator = loaded.validateResource;
  return validator;
}

function mapAjvErrors(
  errors: readonly ErrorObject[],
  resource: Record<string, unknown>,
  resourceType: string,
): Issue[] {
  const best = new Map<string, { rank: number; issue: Issue }>();
  for (const error of errors) {
    const mapped = mapAjvError(error, resource, resourceType);
    const location = mapped.expression?.[0] ?? '';
    const rank = RANK[error.keyword] ?? 5;
    const current = best.get(location);
    if (!current || rank < current.rank) {
      best.set(location, { rank, issue: mapped });
    }
  }
  return [...best.values()].map((entry) => entry.issue);
}

function mapAjvError(error: ErrorObject, resource: Record<string, unknown>, resourceType: string): Issue {
  const { expression, rule } = locate(resource, resourceType, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      return issue('structure', `Unknown element '${name}'`, `${expression}.${name}`);
    }
    case 'required': {
      const location = `${expression}.${String(params.missingProperty)}`;
      return issue('required', `Missing required element ${location}`, location);
    }
    case 'discriminator':
      return params.error === 'tag'
        ? issue('required', `Missing resourceType in ${expression}`, `${expression}.resourceType`)
        : issue('structure', `Unknown resource type '${String(params.tagValue)}'`, expression);
    case 'type': {
      const expected = String(params.type);
      const kind = JSON_KINDS[expected] ?? expected;
      if (expected === 'array' || expected === 'object') {
        return issue('structure', `Invalid value for ${expression}: expected ${kind}`, expression);
      }
      return issue('value', `Invalid value for ${expression}: expected ${describe(rule, kind)}`, expression);
    }
    case 'pattern':
      return issue(
        'value',
        `Invalid value for ${expression}: expected ${describe(rule, 'a string')} matching ${String(params.pattern)}`,
        expression,
      );
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map(String).join(' | ') : '';
      return issue('value', `Invalid value for ${expression}: expected one of ${allowed}`, expression);
    }
    case 'const':
      return issue('value', `Invalid value for ${expression}: expected ${String(params.allowedValue)}`, expression);
    default:
      return issue('invalid', `Invalid value for ${expression}: ${error.message ?? error.keyword}`, expression);
  }
}

/**
 * Turns an ajv instance path (`/name/0/given/1`) into a FHIRPath expression (`Patient.name[0].given[1]`) and
 * finds the element rule at that location, walking the resource along.
 */
function locate(
  resource: Record<string, unknown>,
  resourceType: string,
  instancePath: string,
): { expression: string; rule: ChildRule | undefined } {
  let expression = resourceType;
  let value: unknown = resource;
  let rules = getTypeRules(resourceType);
  let rule: ChildRule | undefined;
  const segments = instancePath === '' ? [] : instancePath.slice(1).split('/');
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value)) {
      expression += `[${segment}]`;
      value = value[Number(segment)];
    } else {
      expression += `.${segment}`;
      rule = rules?.children.get(segment);
      value = isPlainObject(value) ? value[segment] : undefined;
    }
    if (isPlainObject(value)) {
      const nested = rule?.resource ? value.resourceType : undefined;
      rules = typeof nested === 'string' ? getTypeRules(nested) : getTypeRules(rule?.key ?? '');
    }
  }
  return { expression, rule };
}

function describe(rule: ChildRule | undefined, kind: string): string {
  return rule ? `${rule.type} (${kind})` : kind;
}

function issue(code: IssueCode, diagnostics: string, expression: string): Issue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
