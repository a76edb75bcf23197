/**
 * Compiled FHIRPath for SearchParameter expressions, cached by expression. `resolve()` is answered locally from
 * the reference text (`Patient/1` → a stub `{ resourceType: 'Patient', id: '1' }`), never over the network, and
 * `resolve() is X` is rewritten to compare the stub's resourceType (the stub carries no model type).
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { REFERENCE_TARGET } from '../../reference-patterns';
import { compileFastPath } from './fast-path';

/** A compiled expression. */
export type CompiledPath = (input: unknown) => unknown[];

const cache = new Map<string, CompiledPath | null>();


const userInvocationTable = {
  resolve: {
    fn: (inputs: unknown[]) =>
      inputs.flatMap((input) => {
        const reference = typeof input === 'object' && input !== null ? (input as { reference?: unknown }).reference : input;
        const match = typeof reference === 'string' ? REFERENCE_TARGET.exec(reference) : null;
        return match ? [{ resourceType: match[1], id: match[2] }] : [];
      }),
    arity: { 0: [] },
  },
};

function rewrite(expression: string): string {
  return expression.replace(/resolve\(\)\s+is\s+([A-Z][A-Za-z]+)/g, "resolve().resourceType = '$1'");
}

/**
 * Compiles an expression with the FHIRPath engine (R4 model, local `resolve()`), without caching.
 * @param expression - the expression
 * @param base - the path of the element it is evaluated on, if not the resource
 * @returns the compiled function, or undefined when it does not compile
 */
export function compileWithEngine(expression: string, base?: string): CompiledPath | undefined {
  try {
    const source = rewrite(expression);
    const fn = fhirpath.compile(base ? { base, expression: source } : source, r4, { userInvocationTable } as never);
    return (input: unknown) => fn(input as never, {}) as unknown[];
  } catch {
    return undefined;
  }
}

/**
 * Splits an expression at its top-level `|` operators (outside parentheses, brackets and string literals).
 * @param expression - a FHIRPath expression
 * @returns the union's terms, trimmed
 */
export function unionTerms(expression: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === "'") quote = false;
    } else if (ch === "'") quote = true;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '|' && depth === 0) {
      terms.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  terms.push(expression.slice(start).trim());
  return terms;
}

/**
 * The part of a SearchParameter expression that can yield values for one resource type. Shared parameters list
 * one term per base type (`AllergyIntolerance.patient | CarePlan.subject.where(...) | ...`); terms rooted at
 * another type always yield nothing for this one, so they are dropped before compiling.
 * @param expression - the expression
 * @param type - the resource type it will be evaluated on
 * @returns the narrowed expression, or undefined when no term applies
 */
export function narrowToType(expression: string, type: string): string | undefined {
  const terms = unionTerms(expression);
  const kept = terms.filter((term) => {
    const root = /^\(*\s*([A-Z][A-Za-z]*)\b/.exec(term)?.[1];
    return root === undefined || root === type || root === 'Resource' || root === 'DomainResource';
  });
  if (kept.length === 0) return undefined;
  return kept.length === terms.length ? expression : kept.join(' | ');
}

/**
 * Compiles (once) an expression, optionally relative to a base path (for composite components). Simple terms are
 * evaluated directly (fast-path.ts); the rest by the FHIRPath engine.
 * @param expression - the FHIRPath expression
 * @param base - the path of the element the expression is evaluated on (e.g. `Observation.component`)
 * @param type - the resource type it will be evaluated on: terms rooted at other types are dropped
 * @returns the compiled function, or undefined when the expression cannot be compiled or yields nothing for `type`
 */
export function compilePath(expression: string, base?: string, type?: string): CompiledPath | undefined {
  const key = `${type ?? ''}::${base ?? ''}::${expression}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached ?? undefined;
  let compiled: CompiledPath | null = null;
  const narrowed = type && !base ? narrowToType(expression, type) : expression;
  const fast = type && !base && narrowed !== undefined ? compileFastPath(unionTerms(narrowed), type) : undefined;
  if (fast) {
    compiled = (input: unknown) => fast(input as Record<string, unknown>);
  } else if (narrowed !== undefined) {
    compiled = compileWithEngine(narrowed, base) ?? null;
  }
  cache.set(key, compiled);
  return compiled ?? undefined;
}
