/**
 * `_include` and `_revinclude` (https://hl7.org/fhir/R4/search.html#include):
 * - `Type:param`, `Type:param:Target`, `Type:*` and `*` (every reference parameter); for `_revinclude`,
 *   `*` means every reference parameter of every type;
 * - `:iterate` specs are applied again to what the previous round included, until nothing new turns up
 *   (at most {@link MAX_ITERATIONS} rounds);
 * - included resources are deduplicated against the matches and each other; at most {@link INCLUDE_LIMIT} per
 *   page, beyond which a warning says the includes were truncated.
 * Only references inside this server (`Type/id`) are followed. Every resource included is one the caller may read
 * (`ctx.repo.readable`: judged like a direct read of it); `:iterate` follows only what was included.
 */
import type { Filter, ResourceDocument } from '../../storage/ports';
import { getSearchParameter, getSearchParameters, isResourceType, RESOURCE_TYPES } from '../definitions';
import { BadRequestError, type Issue } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { referenceFilter } from './index';
import type { IncludeRequest } from './parse-request';

/** Most resources included in one page. */
export const INCLUDE_LIMIT = 1000;
/** Most rounds of `:iterate`. */
export const MAX_ITERATIONS = 4;

/** Included resources and any warning. */
export interface IncludeResult {
  included: ResourceDocument[];
  warnings: Issue[];
}

const docKey = (doc: Pick<ResourceDocument, 'type' | 'id'>): string => `${doc.type}/${doc.id}`;

function referenceCodes(type: string): string[] {
  return getSearchParameters(type)
    .filter((p) => p.type === 'reference' && p.expression)
    .map((p) => p.code);
}

/**
 * Checks the `_include`/`_revinclude` values against the definitions.
 * @param specs - the parsed values
 * @throws BadRequestError naming the parameter for an unknown type or a parameter that is not a reference
 */
export function checkIncludes(specs: readonly IncludeRequest[]): void {
  for (const spec of specs) {
    if (spec.sourceType === undefined) continue;
    if (!isResourceType(spec.sourceType)) throw invalid(spec, `'${spec.sourceType}' is not a resource type`);
    if (spec.target !== undefined && !isResourceType(spec.target)) throw invalid(spec, `'${spec.target}' is not a resource type`);
    if (spec.code === '*') continue;
    const param = getSearchParameter(spec.sourceType, spec.code);
    if (param?.type !== 'reference') throw invalid(spec, `'${spec.code}' is not a reference parameter of ${spec.sourceType}`);
  }
}

function invalid(spec: IncludeRequest, message: string): BadRequestError {
  return new BadRequestError(`Search parameter ${spec.parameter}: ${message}`, [spec.parameter]);
}

/** `Type/id` references an include spec follows from the given resources, grouped by target type. */
function forwardReferences(spec: IncludeRequest, docs: ResourceDocument[]): Map<string, Set<string>> {
  const byType = new Map<string, Set<string>>();
  for (const doc of docs) {
    if (spec.sourceType !== undefined && doc.type !== spec.sourceType) continue;
    const codes = spec.code === '*' ? referenceCodes(doc.type) : [spec.code];
    for (const code of codes) {
      const entries = doc.index?.[code];
      if (!Array.isArray(entries)) continue;
      for (const entry of entries as Array<Record<string, unknown>>) {
        const { t, i } = entry;
        if (typeof t !== 'string' || typeof i !== 'string' || !isResourceType(t)) continue;
        if (spec.target !== undefined && t !== spec.target) continue;
        let ids = byType.get(t);
        if (!ids) byType.set(t, (ids = new Set()));
        ids.add(i);
      }
    }
  }
  return byType;
}

async function applyInclude(ctx: FhirContext, spec: IncludeRequest, docs: ResourceDocument[], limit: number): Promise<ResourceDocument[]> {
  const found: ResourceDocument[] = [];
  for (const [type, ids] of forwardReferences(spec, docs)) {
    if (found.length > limit) break;
    found.push(...(await ctx.repo.readable(type, { id: { $in: [...ids] } }, limit + 1)));
  }
  return found;
}

/** Reverse-include filters per source type: which of its reference parameters may point at `targets`. */
function reverseFilters(spec: IncludeRequest, refs: string[], targetTypes: Set<string>): Array<[string, Filter]> {
  const sources = spec.sourceType !== undefined ? [spec.sourceType] : [...RESOURCE_TYPES];
  const result: Array<[string, Filter]> = [];
  for (const source of sources) {
    const params = getSearchParameters(source).filter(
      (p) =>
        p.type === 'reference' &&
        p.expression &&
        (spec.code === '*' || p.code === spec.code) &&
        ((p.target ?? []) as readonly string[]).some((t) => t === 'Resource' || targetTypes.has(t)),
    );
    if (params.length === 0) continue;
    const branches = params.map((p) => referenceFilter(p.code, refs));
    result.push([source, branches.length === 1 ? (branches[0] as Filter) : { $or: branches }]);
  }
  return result;
}

async function applyRevinclude(ctx: FhirContext, spec: IncludeRequest, docs: ResourceDocument[], limit: number): Promise<ResourceDocument[]> {
  const targets = docs.filter((d) => spec.target === undefined || d.type === spec.target);
  if (targets.length === 0) return [];
  const refs = targets.map(docKey);
  const found: ResourceDocument[] = [];
  for (const [type, filter] of reverseFilters(spec, refs, new Set(targets.map((d) => d.type)))) {
    if (found.length > limit) break;
    found.push(...(await ctx.repo.readable(type, filter, limit + 1)));
  }
  return found;
}

/**
 * Resolves the includes of one page.
 * @param ctx - the project context
 * @param matches - the page's matches
 * @param include - `_include` specs (checked)
 * @param revinclude - `_revinclude` specs (checked)
 * @returns the included resources (none of them a match) and any truncation warning
 */
export async function resolveIncludes(
  ctx: FhirContext,
  matches: ResourceDocument[],
  include: readonly IncludeRequest[],
  revinclude: readonly IncludeRequest[],
): Promise<IncludeResult> {
  const seen = new Set(matches.map(docKey));
  const included: ResourceDocument[] = [];
  let truncated = false;
  let frontier = matches;
  for (let round = 0; round <= MAX_ITERATIONS && frontier.length > 0 && !truncated; round++) {
    const forward = round === 0 ? include : include.filter((s) => s.iterate);
    const reverse = round === 0 ? revinclude : revinclude.filter((s) => s.iterate);
    const added: ResourceDocument[] = [];
    const runs = [
      ...forward.map((spec) => () => applyInclude(ctx, spec, frontier, INCLUDE_LIMIT)),
      ...reverse.map((spec) => () => applyRevinclude(ctx, spec, frontier, INCLUDE_LIMIT)),
    ];
    for (const run of runs) {
      ctx.budget.checkTime();
      for (const doc of await run()) {
        if (seen.has(docKey(doc))) continue;
        if (included.length >= INCLUDE_LIMIT) {
          truncated = true;
          break;
        }
        seen.add(docKey(doc));
        included.push(doc);
        added.push(doc);
      }
      if (truncated) break;
    }
    frontier = added;
  }
  const warnings: Issue[] = truncated
    ? [{ severity: 'warning', code: 'too-costly', diagnostics: `Only the first ${INCLUDE_LIMIT} included resources are returned` }]
    : [];
  return { included, warnings };
}
