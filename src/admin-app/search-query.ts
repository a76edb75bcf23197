/** Search filters ⇄ a FHIR query string, with typed values (token system|code, date prefix + date). */

/** One filter row. */
export interface Filter {
  name: string;
  /** token: system; date/number/quantity: prefix. */
  prefix: string;
  value: string;
}

export const PREFIXES = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'sa', 'eb', 'ap'];

/** Control parameters kept apart from the filters. */
export interface SearchControls {
  count: string;
  include: string[];
  sort: string;
  other: Array<[string, string]>;
}

/**
 * Reads a query string.
 * @param query - `name=ada&birthdate=ge1990-01-01&_include=...`
 * @param typeOf - the search parameter type of a name
 * @returns the filters and the controls
 */
export function parseQuery(query: string, typeOf: (name: string) => string | undefined): { filters: Filter[]; controls: SearchControls } {
  const filters: Filter[] = [];
  const controls: SearchControls = { count: '20', include: [], sort: '', other: [] };
  for (const [name, raw] of new URLSearchParams(query)) {
    if (name === '_count') controls.count = raw;
    else if (name === '_include') controls.include.push(raw);
    else if (name === '_sort') controls.sort = raw;
    else if (name.startsWith('_') && name !== '_id' && name !== '_lastUpdated') controls.other.push([name, raw]);
    else {
      const type = typeOf(name.split(':')[0] ?? name);
      if (type === 'token' && raw.includes('|')) {
        const at = raw.indexOf('|');
        filters.push({ name, prefix: raw.slice(0, at), value: raw.slice(at + 1) });
      } else if ((type === 'date' || type === 'number' || type === 'quantity') && PREFIXES.includes(raw.slice(0, 2))) {
        filters.push({ name, prefix: raw.slice(0, 2), value: raw.slice(2) });
      } else filters.push({ name, prefix: '', value: raw });
    }
  }
  return { filters, controls };
}

/**
 * Builds the query string.
 * @param filters - the filter rows (empty values are left out)
 * @param controls - count, includes, sort
 * @param typeOf - the search parameter type of a name
 * @returns the query string
 */
export function buildQuery(filters: Filter[], controls: SearchControls, typeOf: (name: string) => string | undefined): string {
  const params = new URLSearchParams();
  for (const f of filters) {
    if (!f.name || f.value.trim() === '') continue;
    const type = typeOf(f.name.split(':')[0] ?? f.name);
    const value = f.value.trim();
    if (type === 'token') params.append(f.name, f.prefix.trim() ? `${f.prefix.trim()}|${value}` : value);
    else if ((type === 'date' || type === 'number' || type === 'quantity') && f.prefix && f.prefix !== 'eq') params.append(f.name, `${f.prefix}${value}`);
    else params.append(f.name, value);
  }
  for (const [name, value] of controls.other) params.append(name, value);
  for (const include of controls.include) params.append('_include', include);
  if (controls.sort) params.set('_sort', controls.sort);
  if (controls.count) params.set('_count', controls.count);
  return params.toString();
}
