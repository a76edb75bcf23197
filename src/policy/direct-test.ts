/**
 * Direct evaluation of the commonest per-resource test of access policies, a label or element check such as
 * `%resource.meta.security.where(code = 'R').exists()`: `%resource.<path>[.where(<element> = '<literal>')]`
 * followed by `.exists()` or `.empty()`. It navigates the resource by the R4 model as the search index does
 * (search/indexing/fast-path.ts) instead of running the FHIRPath engine on every resource judged. Whenever it
 * cannot answer exactly (a type the model does not know, such as the project's own types; an element the model
 * does not know; a primitive extension on the way), the engine answers.
 */
import { compilePresence } from '../fhir/search/indexing/fast-path';
import type { CompiledExpression } from './types';

type Evaluate = CompiledExpression['evaluate'];

const PATTERN = /^%resource((?:\.[a-z][A-Za-z0-9]*)+)(\.where\(\s*[a-z][A-Za-z0-9]*\s*=\s*'[A-Za-z0-9\-.:/]*'\s*\))?\.(exists|empty)\(\)$/;
/** Resource types remembered per expression (every type is a valid FHIR type name: a small, closed set). */
const MAX_TYPES = 512;

/**
 * The direct evaluator of an expression, when it has the form above.
 * @param source - the expression
 * @param engine - the engine's evaluator of the same expression, for what the direct one cannot answer
 * @returns the evaluator, or undefined for any other expression
 */
export function directResourceTest(source: string, engine: Evaluate): Evaluate | undefined {
  const match = PATTERN.exec(source.trim());
  if (!match) return undefined;
  const [, path = '', where = '', fn] = match;
  const wantsPresence = fn === 'exists';
  const perType = new Map<string, ((resource: Record<string, unknown>) => boolean | undefined) | null>();
  return (focus, env) => {
    const resource = env.resource;
    // `%resource` unset (a create is judged before it has one; planning): the empty collection.
    if (resource === undefined || resource === null) return [!wantsPresence];
    if (typeof resource !== 'object' || Array.isArray(resource)) return engine(focus, env);
    const type = (resource as { resourceType?: unknown }).resourceType;
    if (typeof type !== 'string' || !/^[A-Z][A-Za-z]+$/.test(type)) return engine(focus, env);
    let test = perType.get(type);
    if (test === undefined) {
      test = compilePresence(`${type}${path}${where}`, type) ?? null;
      if (perType.size < MAX_TYPES) perType.set(type, test);
    }
    const present = test ? test(resource as Record<string, unknown>) : undefined;
    if (present === undefined) return engine(focus, env);
    return [present === wantsPresence];
  };
}
