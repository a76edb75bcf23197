/**
 * Compiled FHIRPath for SearchParameter expressions, cached by expression. `resolve()` is answered locally from
 * the reference text (`Patient/1` → a stub `{ resourceType: 'Patient', id: '1' }`), never over the network, and
 * `resolve() is X` is rewritten to compare the stub's resourceType (the stub carries no model type).
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

/** A compiled expression. */
export type CompiledPath = (input: unknown) => unknown[];

const cache = new Map<string, CompiledPath | null>();

const REFERENCE_TARGET = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

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
 * Compiles (once) an expression, optionally relative to a base path (for composite components).
 * @param expression - the FHIRPath expression
 * @param base - the path of the element the expression is evaluated on (e.g. `Observation.component`)
 * @returns the compiled function, or undefined when the expression cannot be compiled
 */
export function compilePath(expression: string, base?: string): CompiledPath | undefined {
  const key = base ? `${base}::${expression}` : expression;
  const cached = cache.get(key);
  if (cached !== undefined) return cached ?? undefined;
  let compiled: CompiledPath | null;
  try {
    const fn = fhirpath.compile(base ? { base, expression: rewrite(expression) } : rewrite(expression), r4, { userInvocationTable } as never);
    compiled = (input: unknown) => fn(input as never, {}) as unknown[];
  } catch {
    compiled = null;
  }
  cache.set(key, compiled);
  return compiled ?? undefined;
}
