/**
 * Resolves a set of search parameters to the current, non-deleted resources that match them. Used by the
 * conditional interactions (create with `If-None-Exist`, update/delete on `[type]?params`) and by Bundle
 * processing for conditional references (`Patient?identifier=...`).
 * https://hl7.org/fhir/R4/http.html#cond-update
 */
import type { ResourceDocument } from '../../storage/ports';
import { BadRequestError } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { compileQuery } from './compile-query';

/** Options of {@link matchResources}. */
export interface MatchOptions {
  /** The most documents to return (default: all, up to {@link MATCH_LIMIT}). */
  limit?: number;
}

/** Upper bound on the documents a match returns; callers only need to tell 0, 1 and "more than one". */
export const MATCH_LIMIT = 1000;

/**
 * The current, non-deleted resources of a type that match search parameters and that the caller may see (as
 * matches of a search of the type: searchable and readable; a caller who may not search the type gets 403).
 * Result controls (`_count`, `_sort`, ...) are ignored; unknown parameters and invalid values are errors (a
 * conditional interaction must not widen its match by ignoring a criterion).
 * @param ctx - the project context
 * @param type - the resource type
 * @param query - the parameters as name/value pairs (a repeated name is an AND)
 * @param options - `limit`: return at most this many (use 2 to tell "one" from "several")
 * @returns the matching documents in `_id` order; `resource` is the public view (no write-only fields)
 * @throws BadRequestError for an unknown parameter, a bad value, or no criteria at all
 */
export async function matchResources(
  ctx: FhirContext,
  type: string,
  query: Array<[string, string]>,
  options: MatchOptions = {},
): Promise<ResourceDocument[]> {
  const compiled = await compileQuery(ctx, [type], query, { strict: true });
  if (compiled.criteria === 0) {
    throw new BadRequestError(`A conditional ${type} interaction needs at least one search criterion`);
  }
  const limit = Math.max(1, Math.min(options.limit ?? MATCH_LIMIT, MATCH_LIMIT));
  const access = await ctx.repo.matches([type], 'search-type');
  return access.list(compiled.filter, limit);
}
