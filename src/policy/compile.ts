/**
 * Compiles an AccessPolicy resource: every FHIRPath expression once, with every problem reported as an issue
 * whose `expression` names the element (`AccessPolicy.rule[0].rule[2].target.expression`). Runs when the policy
 * is written (validate.ts → 400) and when a stored policy is loaded into the cache.
 * Structure (required elements, codes) is the JSON schema's job; this checks what the schema cannot.
 */
import { InvalidResourceError, type Issue } from '../fhir/errors';
import { compileExpression, type ExpressionScope } from './expression';
import type { CompiledAttribute, CompiledExpression, CompiledPolicy, CompiledRule } from './types';
import { ATTRIBUTE_ID_PATTERN, RESERVED_NAMES } from './variables';

/** Deepest rule nesting accepted (`rule[0].rule[0]...`). */
export const MAX_RULE_DEPTH = 16;

/** What `compileAccessPolicy` returns. */
export interface PolicyCompilation {
  policy: CompiledPolicy;
  issues: Issue[];
}

type Json = Record<string, unknown>;

const asObject = (value: unknown): Json | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const TARGET_REFERENCE = /^(Membership|ClientApplication)\/[A-Za-z0-9\-.]{1,64}$/;

class Compiler {
  readonly issues: Issue[] = [];
  /** Declared attribute ids (also those whose expressions are broken, so rules do not report them again). */
  readonly attributeIds = new Set<string>();

  /** Compiles `container.expression` (rule target/condition); the location names the expression element. */
  expression(container: unknown, location: string, scope: ExpressionScope): CompiledExpression | undefined {
    return this.source(asObject(container)?.expression, `${location}.expression`, scope);
  }

  source(value: unknown, location: string, scope: ExpressionScope): CompiledExpression | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      this.issue('A FHIRPath expression must be a string', location);
      return undefined;
    }
    const result = compileExpression(value, location, scope);
    this.issues.push(...result.issues);
    return result.expression;
  }

  issue(diagnostics: string, location: string): void {
    this.issues.push({ code: 'invalid', diagnostics, expression: [location] });
  }

  attributes(list: unknown[]): CompiledAttribute[] {
    const compiled: CompiledAttribute[] = [];
    const known = new Set<string>();
    list.forEach((raw, i) => {
      const at = `AccessPolicy.attribute[${i}]`;
      const attribute = asObject(raw) ?? {};
      const id = asString(attribute.attributeId) ?? '';
      if (!ATTRIBUTE_ID_PATTERN.test(id)) this.issue('attributeId must be a FHIRPath identifier (letters, digits, _; at most 64)', `${at}.attributeId`);
      else if (RESERVED_NAMES.has(id)) this.issue(`attributeId '${id}' would hide the built-in variable %${id}`, `${at}.attributeId`);
      else if (known.has(id)) this.issue(`attributeId '${id}' is used twice`, `${at}.attributeId`);
      const operation = asObject(attribute.operation) ?? {};
      const type = operation.type === 'search-type' ? 'search-type' : 'read';
      // An attribute may read the attributes declared before it, so fetching has a fixed order and no cycles.
      const scope: ExpressionScope = { resourceLevel: false, attributes: new Set(known) };
      const source = this.source(operation.path, `${at}.operation.path`, scope);
      if (operation.path === undefined) {
        this.issue(`operation.path is required (${type === 'read' ? 'the reference to read' : 'the resource type to search'})`, `${at}.operation.path`);
      }
      const params = this.source(operation.params, `${at}.operation.params`, scope);
      if (operation.params !== undefined && type === 'read') this.issue('operation.params applies only to search-type', `${at}.operation.params`);
      if (ATTRIBUTE_ID_PATTERN.test(id) && !RESERVED_NAMES.has(id)) {
        known.add(id);
        this.attributeIds.add(id);
      }
      if (source) compiled.push({ attributeId: id, path: at, type, source, params });
    });
    return compiled;
  }

  rules(list: unknown[], parent: string, depth: number, scope: ExpressionScope): CompiledRule[] {
    return list.map((raw, i) => {
      const path = `${parent}.rule[${i}]`;
      const rule = asObject(raw) ?? {};
      if (depth > MAX_RULE_DEPTH) this.issue(`Rules may be nested at most ${MAX_RULE_DEPTH} deep`, path);
      const nested = asArray(rule.rule);
      return {
        path,
        name: asString(rule.name),
        effect: rule.effect === 'deny' ? 'deny' : 'permit',
        target: this.expression(rule.target, `${path}.target`, scope),
        condition: this.expression(rule.condition, `${path}.condition`, scope),
        combineBehavior: rule.combineBehavior === 'all' ? 'all' : 'any',
        rules: depth > MAX_RULE_DEPTH ? [] : this.rules(nested, path, depth + 1, scope),
      };
    });
  }
}

/**
 * Compiles an AccessPolicy.
 * @param resource - the AccessPolicy (already schema-valid when it comes from a write)
 * @returns the compiled policy and every problem found (an empty list means it is usable)
 */
export function compileAccessPolicy(resource: Record<string, unknown>): PolicyCompilation {
  const compiler = new Compiler();
  const targets: string[] = [];
  asArray(resource.target).forEach((raw, i) => {
    const reference = asString(asObject(asObject(raw)?.link)?.reference);
    if (reference !== undefined && TARGET_REFERENCE.test(reference)) targets.push(reference);
    else compiler.issue('target.link must be a relative reference to a Membership or a ClientApplication (Membership/<id>)', `AccessPolicy.target[${i}].link`);
  });
  const attributes = compiler.attributes(asArray(resource.attribute));
  const scope: ExpressionScope = { resourceLevel: true, attributes: compiler.attributeIds };
  const rules = compiler.rules(asArray(resource.rule), 'AccessPolicy', 1, scope);
  const meta = asObject(resource.meta);
  return {
    policy: {
      id: asString(resource.id) ?? '',
      versionId: asString(meta?.versionId),
      name: asString(resource.name),
      engine: resource.engine === 'full-access' ? 'full-access' : 'rule-engine',
      targets,
      rules,
      attributes,
      ...(compiler.issues.length > 0 ? { brokenReason: compiler.issues.map((i) => i.diagnostics).join('; ') } : {}),
    },
    issues: compiler.issues,
  };
}

/**
 * The write-time check: throws a 400 listing every broken expression.
 * @param resource - the AccessPolicy about to be stored (schema-valid)
 * @throws InvalidResourceError with one issue per problem
 */
export function assertValidAccessPolicy(resource: Record<string, unknown>): void {
  const { issues } = compileAccessPolicy(resource);
  if (issues.length > 0) throw new InvalidResourceError(issues);
}
