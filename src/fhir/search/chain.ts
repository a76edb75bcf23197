/**
 * Chained parameters and reverse chaining (https://hl7.org/fhir/R4/search.html#chaining, #has):
 * - `subject:Patient.name=peter`, `subject.name=peter` (when exactly one target type has the next parameter),
 *   up to {@link MAX_CHAIN_DEPTH} links (`subject:Patient.organization.name=x`);
 * - `_has:Observation:patient:code=1234-5` (one level; the inner parameter may itself be chained).
 * The inner search runs first, over the resources a search of the inner type would return to the caller
 * (`ctx.repo.searchable`: a chain through any other resource matches nothing); its matches become a reference (or id) filter on the outer
 * type. An inner search with more than {@link CHAIN_LIMIT} matches is refused as too costly rather than silently
 * truncated.
 */
import type { Filter } from '../../storage/ports';
import { getSearchParameter, isResourceType } from '../definitions';
import { BadRequestError, FhirError } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { referenceFilter, UnknownSearchParameterError } from './index';

/** Compiles one criterion for a type (passed in by compile-query, which owns the dispatch). */
export type CriterionCompiler = (ctx: FhirContext, type: string, name: string, value: string, depth: number) => Promise<Filter | undefined>;

/** Most links in a chain, `_has` counting as one. */
export const MAX_CHAIN_DEPTH = 3;
/** Most resources an inner search may match. */
export const CHAIN_LIMIT = 1000;

function invalid(name: string, message: string): BadRequestError {
  return new BadRequestError(`Search parameter ${name}: ${message}`, [name]);
}

function tooCostly(name: string): FhirError {
  return new FhirError(400, {
    code: 'too-costly',
    diagnostics: `Search parameter ${name}: the inner search matches more than ${CHAIN_LIMIT} resources; narrow it`,
    expression: [name],
  });
}

function hasParameter(type: string, code: string): boolean {
  return code === '_id' || code === '_lastUpdated' || getSearchParameter(type, code) !== undefined;
}

/**
 * Whether a parameter name is a forward chain (`subject.name`, `subject:Patient.name`).
 * @param name - the parameter name
 * @returns true when the name has a `.` (search parameter codes never do)
 */
export function isChainedName(name: string): boolean {
  return !name.startsWith('_has:') && name.includes('.');
}

/**
 * Filter for a forward chain.
 * @param ctx - the project context
 * @param type - the type searched
 * @param name - the full parameter name (`subject:Patient.organization.name`)
 * @param value - the value
 * @param depth - links already followed
 * @param compile - the criterion compiler for the inner part
 * @returns a reference filter on the outer type, or undefined for an empty value
 */
export async function chainFilter(
  ctx: FhirContext,
  type: string,
  name: string,
  value: string,
  depth: number,
  compile: CriterionCompiler,
): Promise<Filter | undefined> {
  const dot = name.indexOf('.');
  const head = name.slice(0, dot);
  const rest = name.slice(dot + 1);
  const [code = '', modifier, extra] = head.split(':');
  if (extra !== undefined) throw invalid(name, `'${head}' has more than one modifier`);
  const param = getSearchParameter(type, code);
  if (!param) throw new UnknownSearchParameterError(name);
  if (param.type !== 'reference') throw invalid(name, `'${code}' is a ${param.type} parameter and cannot be chained`);
  if (depth + 1 > MAX_CHAIN_DEPTH) throw invalid(name, `chains longer than ${MAX_CHAIN_DEPTH} links are not supported`);
  const allowed = (param.target ?? []) as readonly string[];
  let targets: readonly string[];
  if (modifier !== undefined) {
    if (!isResourceType(modifier) || !(allowed.includes(modifier) || allowed.includes('Resource'))) {
      throw invalid(name, `'${code}' cannot refer to '${modifier}'`);
    }
    targets = [modifier];
  } else {
    targets = allowed.filter((t) => isResourceType(t));
  }
  const nextCode = rest.split(/[.:]/)[0] ?? '';
  const candidates = targets.filter((t) => hasParameter(t, nextCode));
  if (candidates.length === 0) throw new UnknownSearchParameterError(name);
  if (candidates.length > 1) {
    throw invalid(name, `'${code}' may refer to ${candidates.join(', ')}; name the type, e.g. ${code}:${candidates[0] ?? ''}.${rest}`);
  }
  const target = candidates[0] as string;
  const inner = await compileInner(ctx, target, name, rest, value, depth + 1, compile);
  if (!inner) return undefined;
  const matches = await ctx.repo.searchable(target, { $and: [inner] }, CHAIN_LIMIT + 1);
  if (matches.length > CHAIN_LIMIT) throw tooCostly(name);
  return referenceFilter(param.code, matches.map((doc) => `${target}/${doc.id}`));
}

/**
 * Filter for reverse chaining, `_has:Type:reference:parameter=value`.
 * @param ctx - the project context
 * @param type - the type searched
 * @param name - the full parameter name
 * @param value - the value
 * @param depth - links already followed
 * @param compile - the criterion compiler for the inner parameter
 * @returns an id filter on the outer type, or undefined for an empty value
 */
export async function hasFilter(
  ctx: FhirContext,
  type: string,
  name: string,
  value: string,
  depth: number,
  compile: CriterionCompiler,
): Promise<Filter | undefined> {
  const [, sourceType = '', refCode = '', ...paramParts] = name.split(':');
  const inner = paramParts.join(':');
  if (!sourceType || !refCode || !inner) throw invalid(name, 'must be _has:Type:reference:parameter');
  if (inner.startsWith('_has')) throw invalid(name, 'nested _has is not supported');
  if (depth + 1 > MAX_CHAIN_DEPTH) throw invalid(name, `chains longer than ${MAX_CHAIN_DEPTH} links are not supported`);
  if (!isResourceType(sourceType)) throw invalid(name, `'${sourceType}' is not a resource type`);
  const param = getSearchParameter(sourceType, refCode);
  if (!param) throw new UnknownSearchParameterError(name);
  const targets = (param.target ?? []) as readonly string[];
  if (param.type !== 'reference' || !(targets.includes(type) || targets.includes('Resource'))) {
    throw invalid(name, `${sourceType}.${refCode} does not refer to ${type}`);
  }
  const condition = await compileInner(ctx, sourceType, name, inner, value, depth + 1, compile);
  if (!condition) return undefined;
  const pointsAtType: Filter = { [`index.${param.code}`]: { $elemMatch: { t: type } } };
  const sources = await ctx.repo.searchable(sourceType, { $and: [condition, pointsAtType] }, CHAIN_LIMIT + 1);
  if (sources.length > CHAIN_LIMIT) throw tooCostly(name);
  const ids = new Set<string>();
  for (const doc of sources) {
    const entries = doc.index?.[param.code];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries as Array<Record<string, unknown>>) {
      if (entry.t === type && typeof entry.i === 'string') ids.add(entry.i);
    }
  }
  return { id: { $in: [...ids] } };
}

/** Compiles the inner part, reporting an unknown inner parameter under the full name. */
async function compileInner(
  ctx: FhirContext,
  type: string,
  fullName: string,
  name: string,
  value: string,
  depth: number,
  compile: CriterionCompiler,
): Promise<Filter | undefined> {
  try {
    return await compile(ctx, type, name, value, depth);
  } catch (err) {
    if (err instanceof UnknownSearchParameterError) {
      throw new UnknownSearchParameterError(fullName, `Unknown search parameter '${name}' in '${fullName}' (on ${type})`);
    }
    throw err;
  }
}
