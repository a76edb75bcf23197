/**
 * Compiles one FHIRPath expression of an AccessPolicy (fhirpath.js, R4 model), once, when the policy is written
 * or first loaded. Reported as issues with the element's location:
 * - syntax errors;
 * - unknown `%variables` (allowed: see variables.ts, the policy's attribute ids, `defineVariable` names);
 * - unknown functions and calls with a wrong number of arguments;
 * - `resolve()` and `memberOf()`: they would fetch over the network; policies read data through attributes.
 * The compiled function never does I/O; `%sct`, `%loinc`, `%vs-*`, `%ext-*` are bound at compile time.
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { Issue } from '../fhir/errors';
import { analyzeExpression, type AstNode, type FunctionCall } from './ast';
import { directResourceTest } from './direct-test';
import type { CompiledExpression } from './types';
import { isBuiltInVariable, RESOURCE_DEPENDENT_VARIABLES, specConstant } from './variables';

/** Where an expression runs, which decides the variables it may read. */
export interface ExpressionScope {
  /** Rule expressions see `%resource`, `%before`, `%context`; attribute expressions do not. */
  resourceLevel: boolean;
  /** Attribute ids the expression may read as `%<id>`. */
  attributes: ReadonlySet<string>;
}

/** Upper bound on an expression's length, so a policy cannot make compilation or evaluation expensive. */
export const MAX_EXPRESSION_LENGTH = 4000;

/** Functions that would reach out of the process. */
const FORBIDDEN_FUNCTIONS: Readonly<Record<string, string>> = {
  resolve: 'resolve() is not available in access policies (it would fetch over the network); read related data with an attribute',
  memberOf: 'memberOf() is not available in access policies (it needs a terminology server)',
};

const refuse = (name: string) => (): never => {
  throw new Error(FORBIDDEN_FUNCTIONS[name]);
};

/** Defence in depth: even if a forbidden call got through, it throws instead of fetching. */
const OPTIONS = {
  userInvocationTable: {
    resolve: { fn: refuse('resolve'), arity: { 0: [] } },
    memberOf: { fn: refuse('memberOf'), arity: { 1: ['String'] } },
  },
  traceFn: () => undefined,
};

const functionChecks = new Map<string, string | undefined>();

/**
 * Whether fhirpath.js implements a function with this many arguments, by invoking it once on an empty input
 * (cached per name and arity). fhirpath.js reports a wrong arity with `console.warn` and an empty result rather
 * than an error, so the probe captures that warning; the probe is synchronous and runs only at compile time.
 */
function checkFunction(call: FunctionCall): string | undefined {
  const forbidden = FORBIDDEN_FUNCTIONS[call.name];
  if (forbidden) return forbidden;
  const key = `${call.name}/${call.arity}`;
  if (functionChecks.has(key)) return functionChecks.get(key);
  let problem: string | undefined;
  const warn = console.warn;
  console.warn = () => {
    problem = `${call.name}() does not take ${call.arity} argument${call.arity === 1 ? '' : 's'}`;
  };
  try {
    fhirpath.evaluate([], `${call.name}(${new Array(call.arity).fill('{}').join(', ')})`, {}, r4, { traceFn: () => undefined });
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    if (message.startsWith('Not implemented')) problem = `Unknown FHIRPath function ${call.name}()`;
    else if (message.includes('asynchronous function')) problem = `${call.name}() is not available in access policies`;
  } finally {
    console.warn = warn;
  }
  functionChecks.set(key, problem);
  return problem;
}

/** The parser's message without its list of every token it would have accepted. */
function syntaxMessage(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ expecting \{[^}]*\}\s*$/, '');
}

type CompiledFunction = (focus: unknown, env: Record<string, unknown>) => unknown[];

/** What parsing (and, once asked for, compiling) one expression text gave: the same for every policy using it. */
interface ParsedSource {
  facts?: ReturnType<typeof analyzeExpression>;
  syntaxError?: string;
  compiled?: { fn: CompiledFunction } | { error: string };
}

/**
 * Parsed and compiled expression texts, least recently used first: policies share expressions (`%resource.meta…`),
 * and a policy edit or a project's first request recompiles every policy it loads; none of that parses again.
 */
const parsedSources = new Map<string, ParsedSource>();
const MAX_PARSED_SOURCES = 2000;

function parsedSource(source: string): ParsedSource {
  const known = parsedSources.get(source);
  if (known) {
    parsedSources.delete(source);
    parsedSources.set(source, known);
    return known;
  }
  let entry: ParsedSource;
  try {
    entry = { facts: analyzeExpression(fhirpath.parse(source) as AstNode) };
  } catch (err) {
    entry = { syntaxError: err instanceof Error ? syntaxMessage(err.message) : 'unparseable' };
  }
  parsedSources.set(source, entry);
  if (parsedSources.size > MAX_PARSED_SOURCES) parsedSources.delete(parsedSources.keys().next().value as string);
  return entry;
}

function compiledFunction(source: string, entry: ParsedSource): { fn: CompiledFunction } | { error: string } {
  if (!entry.compiled) {
    try {
      entry.compiled = { fn: fhirpath.compile(source, r4, OPTIONS as never) as never };
    } catch (err) {
      entry.compiled = { error: err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : 'does not compile' };
    }
  }
  return entry.compiled;
}

/**
 * Compiles an expression.
 * @param source - the FHIRPath text
 * @param location - its element path, e.g. `AccessPolicy.rule[1].condition.expression`
 * @param scope - what it may read
 * @returns the compiled expression, or the issues that prevent compiling it
 */
export function compileExpression(
  source: string,
  location: string,
  scope: ExpressionScope,
): { expression: CompiledExpression; issues: [] } | { expression?: undefined; issues: Issue[] } {
  const fail = (diagnostics: string): { issues: Issue[] } => ({ issues: [{ code: 'invalid', diagnostics, expression: [location] }] });
  if (source.trim() === '') return fail('The expression is empty');
  if (source.length > MAX_EXPRESSION_LENGTH) return fail(`The expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const parsed = parsedSource(source);
  if (!parsed.facts) return fail(`FHIRPath syntax error: ${parsed.syntaxError ?? 'unparseable'}`);
  const { facts } = parsed;
  const issues: Issue[] = [];
  for (const name of facts.variables) {
    if (isBuiltInVariable(name, scope.resourceLevel) || scope.attributes.has(name) || facts.definedVariables.has(name)) continue;
    const hint = !scope.resourceLevel && RESOURCE_DEPENDENT_VARIABLES.has(name) ? ' (attributes are fetched once per request, before any resource is known)' : '';
    issues.push({ code: 'invalid', diagnostics: `Unknown variable %${name}${hint}`, expression: [location] });
  }
  for (const call of facts.functions) {
    const problem = checkFunction(call);
    if (problem) issues.push({ code: 'invalid', diagnostics: problem, expression: [location] });
  }
  if (issues.length > 0) return { issues: dedupe(issues) };
  const compiled = compiledFunction(source, parsed);
  if ('error' in compiled) return fail(`FHIRPath error: ${compiled.error}`);
  const { fn } = compiled;
  const constants = bindConstants(facts.variables);
  const variables = new Set(facts.variables);
  const evaluate = (focus: unknown, env: Readonly<Record<string, unknown>>): unknown[] =>
    fn(focus ?? [], constants ? Object.assign(Object.create(env) as Record<string, unknown>, constants) : (env as Record<string, unknown>));
  return {
    issues: [],
    expression: {
      source,
      location,
      variables,
      dependsOnResource: facts.usesFocus || [...variables].some((v) => RESOURCE_DEPENDENT_VARIABLES.has(v)),
      requestMembers: facts.requestWhole ? 'all' : new Set(facts.requestMembers),
      evaluate: byRequestShape(facts) ? memoizedByRequestShape(evaluate) : (directResourceTest(source, evaluate) ?? evaluate),
    },
  };
}

/** `%sct`, `%vs-x` and friends, resolved once; undefined when the expression uses none. */
function bindConstants(variables: ReadonlySet<string>): Record<string, string> | undefined {
  let constants: Record<string, string> | undefined;
  for (const name of variables) {
    const value = specConstant(name);
    if (value !== undefined) (constants ??= {})[name] = value;
  }
  return constants;
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => (seen.has(i.diagnostics) ? false : (seen.add(i.diagnostics), true)));
}

/** `%request` members that describe the shape of a request (the same for every request of that kind). */
const SHAPE_MEMBERS: ReadonlySet<string> = new Set(['interaction', 'resourceType']);
/** Functions whose value changes over time. */
const CLOCK_FUNCTIONS: ReadonlySet<string> = new Set(['now', 'today', 'timeOfDay']);
/** Distinct request shapes remembered per expression. */
const MAX_SHAPES = 256;

/**
 * Whether an expression's value is fixed by the request's interaction and resource type: it reads nothing but
 * `%request.interaction` and `%request.resourceType` (no focus, no other variable, no clock).
 */
function byRequestShape(facts: ReturnType<typeof analyzeExpression>): boolean {
  return (
    !facts.usesFocus &&
    !facts.requestWhole &&
    [...facts.variables].every((v) => v === 'request') &&
    [...facts.requestMembers].every((m) => SHAPE_MEMBERS.has(m)) &&
    facts.functions.every((f) => !CLOCK_FUNCTIONS.has(f.name) && f.name !== 'defineVariable')
  );
}

/**
 * Remembers an expression's result per request shape. Typical rule targets
 * (`%request.resourceType = 'Patient' and %request.interaction in ('read' | 'search-type')`) are then evaluated
 * once per shape instead of on every request; the memory lives as long as the compiled policy.
 */
function memoizedByRequestShape(evaluate: CompiledExpression['evaluate']): CompiledExpression['evaluate'] {
  const results = new Map<string, unknown[]>();
  return (focus, env) => {
    const request = env.request as { interaction?: unknown; resourceType?: unknown } | undefined;
    const key = `${String(request?.interaction)}|${String(request?.resourceType)}`;
    const known = results.get(key);
    if (known) return known;
    const result = evaluate(focus, env);
    if (results.size < MAX_SHAPES) results.set(key, result);
    return result;
  };
}
