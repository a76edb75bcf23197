/**
 * The search core: values stored with each resource version and per-parameter query filters
 * (docs/search-index.md). Chained parameters (`subject:Patient.name`) and `_has` are resolved by the caller,
 * which runs the inner search first and then uses {@link referenceFilter}; `parameterFilter` reports such names
 * as unknown parameters.
 */
import type { Sort } from '../../storage/ports';
import { sortField } from './filter/parameter-filter';

export { buildSearchIndex, type SearchIndex } from './indexing/build-index';
export { parameterFilter, referenceFilter, type FilterOptions } from './filter/parameter-filter';
export { UnknownSearchParameterError } from './filter/values';

/**
 * Sort fields for one `_sort` key.
 * @param type - the resource type
 * @param code - the parameter code
 * @param direction - asc or desc
 * @returns the sort entries (throws UnknownSearchParameterError for a parameter that cannot be sorted on)
 */
export function sortFields(type: string, code: string, direction: 'asc' | 'desc'): Sort {
  return [[sortField(type, code), direction === 'asc' ? 1 : -1]];
}
