/**
 * Direct evaluation of the simple FHIRPath terms most SearchParameter expressions are made of, without the
 * FHIRPath engine (which wraps every node it visits and costs 2-12 µs per evaluation):
 *
 * - `Type.a.b` — element navigation, flattening arrays; a choice element without a cast (`Observation.effective`)
 *   yields every `effective[x]` variant present;
 * - `(Type.a as T)`, `Type.a.as(T)`, `Type.a.ofType(T)` — one variant of a choice element (`valueQuantity`);
 * - `Type.a.where(resolve() is T)` — the References among them whose reference names a `T`;
 * - `Type.a.where(b = 'literal')` — the elements whose primitive `b` (code, string, uri) equals the literal
 *   (`Patient.telecom.where(system='email')`).
 *
 * `Type` is the resource type, `Resource` or `DomainResource`. Element types come from the FHIRPath R4 model
 * (`path2Type`, `choiceTypePaths`), so only paths the model knows are taken; anything else (functions,
 * operators, unknown elements, the project's own resource types) is left to the FHIRPath engine. Results equal the
 * engine's for every expression taken (tested over all R4 SearchParameters).
 */
import r4 from 'fhirpath/fhir-context/r4';
import { REFERENCE_TARGET, referenceOf } from '../../reference-patterns';

/** Evaluates a compiled term or union on a resource. */
export type FastPath = (resource: Record<string, unknown>) => unknown[];

interface ModelInfo {
  choiceTypePaths: Record<string, string[]>;
  path2Type: Record<string, string>;
}

const model = r4 as unknown as ModelInfo;

/** One navigation step: the JSON keys that may hold the element. */
interface Step {
  keys: string[];
}

interface Term {
  steps: Step[];
  /** `where(resolve() is T)`: keep References to this type. */
  referenceType?: string;
  /** `where(b = 'literal')`: keep elements whose `b` is the literal. */
  equals?: { key: string; value: string };
  /** `X.a.exists() and X.a != false`: one boolean (Patient.deceased). */
  presentNotFalse?: true;
}

/** Primitive types compared by `=` as exact strings. */
const STRING_TYPES = new Set(['code', 'string', 'uri']);

const COMPLEX_CONTAINERS = new Set(['BackboneElement', 'Element']);

function capitalize(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

/**
 * Resolves a dotted path (after the root type) to navigation steps, using the model.
 * @returns the steps, or undefined when the model does not know an element
 */
function resolveSteps(root: string, names: string[], cast: string | undefined): Step[] | undefined {
  return resolvePath(root, names, cast)?.steps;
}

/** Like resolveSteps, with the type of the last element (undefined for a choice element). */
function resolvePath(root: string, names: string[], cast: string | undefined): { steps: Step[]; type?: string } | undefined {
  const steps: Step[] = [];
  let prefix = root;
  for (const [i, name] of names.entries()) {
    const full = `${prefix}.${name}`;
    const choices = model.choiceTypePaths[full];
    const last = i === names.length - 1;
    if (choices) {
      if (!last) return undefined;
      if (cast !== undefined) {
        const suffix = capitalize(cast);
        if (!choices.includes(suffix)) return undefined;
        steps.push({ keys: [`${name}${suffix}`] });
      } else {
        steps.push({ keys: choices.map((suffix) => `${name}${suffix}`) });
      }
      return { steps };
    }
    const type = model.path2Type[full];
    if (type === undefined) return undefined;
    if (last && cast !== undefined) return undefined;
    steps.push({ keys: [name] });
    prefix = COMPLEX_CONTAINERS.has(type) ? full : type;
  }
  return { steps, type: prefix };
}

const PATH = String.raw`([A-Z][A-Za-z]*)((?:\.[a-z][A-Za-z0-9]*)+)`;
const TERM_PATTERNS: Array<{ re: RegExp; kind: 'plain' | 'cast' | 'where' | 'equals' | 'present-not-false' }> = [
  { re: new RegExp(`^${PATH}$`), kind: 'plain' },
  { re: new RegExp(`^${PATH}\\.exists\\(\\)\\s+and\\s+\\1\\2\\s*!=\\s*false$`), kind: 'present-not-false' },
  { re: new RegExp(`^\\(\\s*${PATH}\\s+as\\s+([A-Za-z]+)\\s*\\)$`), kind: 'cast' },
  { re: new RegExp(`^${PATH}\\.(?:as|ofType)\\(([A-Za-z]+)\\)$`), kind: 'cast' },
  { re: new RegExp(`^${PATH}\\.where\\(resolve\\(\\)\\s+is\\s+([A-Z][A-Za-z]*)\\)$`), kind: 'where' },
  { re: new RegExp(`^${PATH}\\.where\\(([a-z][A-Za-z0-9]*)\\s*=\\s*'([A-Za-z0-9\\-.:/]*)'\\)$`), kind: 'equals' },
];

function parseTerm(term: string, type: string): Term | null | undefined {
  for (const { re, kind } of TERM_PATTERNS) {
    const match = re.exec(term);
    if (!match) continue;
    const [, root = '', path = '', extra, literal] = match;
    // A term rooted at another type yields nothing for this one.
    if (root !== type && root !== 'Resource' && root !== 'DomainResource') return null;
    const names = path.slice(1).split('.');
    if (kind === 'equals') {
      const resolved = resolvePath(root, names, undefined);
      const keyType = resolved?.type !== undefined && extra !== undefined ? model.path2Type[`${resolved.type}.${extra}`] : undefined;
      if (!resolved || keyType === undefined || !STRING_TYPES.has(keyType) || extra === undefined || literal === undefined) return undefined;
      return { steps: resolved.steps, equals: { key: extra, value: literal } };
    }
    const steps = resolveSteps(root, names, kind === 'cast' ? extra : undefined);
    if (!steps) return undefined;
    if (kind === 'present-not-false') return { steps, presentNotFalse: true };
    return kind === 'where' ? { steps, referenceType: extra } : { steps };
  }
  return undefined;
}

function navigate(values: unknown[], step: Step): unknown[] {
  const out: unknown[] = [];
  for (const value of values) {
    if (typeof value !== 'object' || value === null) continue;
    for (const key of step.keys) {
      const child = (value as Record<string, unknown>)[key];
      if (child === undefined || child === null) continue;
      if (Array.isArray(child)) {
        for (const item of child) if (item !== null && item !== undefined) out.push(item);
      } else {
        out.push(child);
      }
    }
  }
  return out;
}

function evaluateTerm(term: Term, resource: Record<string, unknown>): unknown[] {
  let values: unknown[] = [resource];
  for (const step of term.steps) {
    values = navigate(values, step);
    if (values.length === 0) return term.presentNotFalse ? [false] : values;
  }
  // FHIRPath: `exists()` is true; `!= false` is false only for the single boolean false (another type, or several
  // values, are not equal to it).
  if (term.presentNotFalse) return [values.length !== 1 || values[0] !== false];
  if (term.equals !== undefined) {
    const { key, value } = term.equals;
    return values.filter((item) => typeof item === 'object' && item !== null && (item as Record<string, unknown>)[key] === value);
  }
  if (term.referenceType === undefined) return values;
  return values.filter((value) => {
    const reference = referenceOf(value);
    return reference !== undefined && REFERENCE_TARGET.exec(reference)?.[1] === term.referenceType;
  });
}

/**
 * Compiles a simple term evaluated on an element rather than the resource (composite components: `code`,
 * `value.as(Quantity)` on `Observation.component`).
 * @param expression - the relative expression
 * @param base - the element's path (`Observation` or `Observation.component`)
 * @returns the evaluator (its input is the element), or undefined when the term needs the FHIRPath engine
 */
export function compileRelativeFastPath(expression: string, base: string): FastPath | undefined {
  const trimmed = expression.trim();
  const absolute = /^\(/.test(trimmed) ? `(${base}.${trimmed.slice(1).trimStart()}` : `${base}.${trimmed}`;
  if (!/^\(?[a-z]/.test(trimmed)) return undefined;
  const root = base.split('.')[0] ?? '';
  const term = parseTerm(absolute, root);
  if (!term) return undefined;
  const skip = base.split('.').length - 1;
  const relative: Term = { ...term, steps: term.steps.slice(skip) };
  if (relative.steps.length === 0) return undefined;
  return (element) => evaluateTerm(relative, element);
}

/**
 * Compiles a union of simple terms for one resource type.
 * @param terms - the union's terms (see `unionTerms`)
 * @param type - the resource type the expression is evaluated on
 * @returns the evaluator, or undefined when some term needs the FHIRPath engine
 */
export function compileFastPath(terms: string[], type: string): FastPath | undefined {
  const parsed: Term[] = [];
  for (const text of terms) {
    const term = parseTerm(text, type);
    if (term === undefined) return undefined;
    if (term !== null) parsed.push(term);
  }
  if (parsed.length === 1) {
    const [only] = parsed as [Term];
    return (resource) => evaluateTerm(only, resource);
  }
  return (resource) => parsed.flatMap((term) => evaluateTerm(term, resource));
}

/**
 * Compiles a presence test of a plain path, or of a path filtered by `where(b = 'literal')`, on one resource type:
 * whether `<expression>.exists()` is true. Exact where it answers: a primitive's extensions live beside it
 * (`_birthDate`), where the FHIRPath engine finds them and this evaluator does not, so a resource with such a
 * sibling on the way gets no answer (undefined) and the caller asks the engine.
 * @param expression - `Type.a.b` or `Type.a.b.where(c = 'x')`
 * @param type - the resource type
 * @returns the test, or undefined when the expression is not of that form or the model does not know a step
 */
export function compilePresence(expression: string, type: string): ((resource: Record<string, unknown>) => boolean | undefined) | undefined {
  const term = parseTerm(expression, type);
  if (!term || term.referenceType !== undefined || term.presentNotFalse) return undefined;
  return (resource) => {
    let values: unknown[] = [resource];
    for (const step of term.steps) {
      for (const value of values) if (hasExtensionSibling(value, step)) return undefined;
      values = navigate(values, step);
      if (values.length === 0) return false;
    }
    if (term.equals === undefined) return true;
    const { key, value } = term.equals;
    return values.some((item) => typeof item === 'object' && item !== null && (item as Record<string, unknown>)[key] === value);
  };
}

function hasExtensionSibling(value: unknown, step: Step): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const key of step.keys) if ((value as Record<string, unknown>)[`_${key}`] !== undefined) return true;
  return false;
}

