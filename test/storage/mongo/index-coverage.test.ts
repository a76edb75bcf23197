/**
 * Every query the search code can send to the resources collection is served by an index the Mongo adapter
 * declares (checked statically: no MongoDB server is needed; docs/mongodb.md "What is checked statically").
 */
import type { Filter, Sort } from '../../../src/storage/ports';
import { coverage, predicatesOf, type Coverage, type DeclaredIndex } from '../../../src/storage/mongo/index-coverage';
import { HISTORY_INDEXES, RESOURCE_INDEXES, SORT_INDEXED_CODES } from '../../../src/storage/mongo/indexes';
import { historyFilter, HISTORY_SORT } from '../../../src/storage/mongo/resource-store';
import { enumerateQueries, type RecordedQuery } from './query-shapes';

/**
 * The filter without the paging bounds paging.ts adds to every page (`lastUpdated < snapshot`, true of nearly every
 * document, and the keyset condition on the sort fields, which the sort walk itself applies): what remains must
 * find the candidates.
 */
function selective(filter: Filter, sort: Sort): Filter {
  const sortFields = new Set(sort.map(([field]) => field));
  const { $and, ...rest } = filter;
  if (!Array.isArray($and)) return filter;
  const kept = ($and as Filter[]).filter((part) => {
    const keys = Object.keys(part);
    if (keys.length === 1 && keys[0] === 'lastUpdated') {
      const condition = part.lastUpdated as Record<string, unknown>;
      if (Object.keys(condition).length === 1 && '$lt' in condition) return false;
    }
    const paths = predicatesOf(part).flatMap(function paths(p): string[] {
      return p.kind === 'path' ? [p.path] : p.branches.flat().flatMap(paths);
    });
    return !(paths.length > 0 && paths.every((path) => sortFields.has(path)));
  });
  return { ...rest, $and: kept };
}

/**
 * The shape of a filter, as a string: its structure with every value replaced by `·` (a regular expression by
 * whether it is anchored), an array by the distinct shapes of its elements.
 */
function shapeOf(value: unknown): string {
  if (value instanceof RegExp) return value.source.startsWith('^') ? '/^…/' : '/…/';
  if (Array.isArray(value)) return `[${[...new Set(value.map(shapeOf))].join(',')}]`;
  if (typeof value === 'object' && value !== null) return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${shapeOf(v)}`).join(',')}}`;
  return '·';
}

/** A query's shape: its filter's and its sort. */
const shapeKey = (filter: Filter, sort: Sort): string => `${shapeOf(filter)} sort ${JSON.stringify(sort)}`;

function isInMemorySortOfListing(result: Coverage, sort: Sort): boolean {
  // `_sort` by a parameter without a sort index: the type's documents are read and sorted top-k.
  const indexed = new Set<string>(SORT_INDEXED_CODES.map((code) => `sort.${code}`));
  return result.verdict === 'scope' && sort.some(([field]) => field.startsWith('sort.') && !indexed.has(field));
}

function acceptable(result: Coverage, sort: Sort): boolean {
  if (result.verdict === 'criterion' || result.verdict === 'sort') return true;
  // A count or page made only of negations (`:missing=true`, `:not`, `ne`) has nothing an index can look up.
  return result.verdict === 'scope' && (sort.length === 0 || isInMemorySortOfListing(result, sort));
}

let queries: RecordedQuery[];
let refused: string[];
let searches: number;
let recorded: number;

/** One query per shape (the same shape from many types and values is judged once). */
function distinctShapes(all: readonly RecordedQuery[]): RecordedQuery[] {
  const byShape = new Map<string, RecordedQuery>();
  for (const query of all) {
    const key = shapeKey(query.filter, query.sort);
    if (!byShape.has(key)) byShape.set(key, query);
  }
  return [...byShape.values()];
}

beforeAll(async () => {
  let all: RecordedQuery[];
  ({ queries: all, refused, searches } = await enumerateQueries());
  recorded = all.length;
  queries = distinctShapes(all);
}, 120_000);

describe('Mongo index coverage', () => {
  it('enumerates the searches of every R4 search parameter', () => {
    expect(searches).toBeGreaterThan(10_000);
    expect(recorded).toBeGreaterThan(searches);
    expect(queries.length).toBeGreaterThan(1000);
    // Only combinations the server refuses by design (400) are skipped, never most of a parameter type.
    expect(refused.length).toBeLessThan(searches / 10);
  });

  it('serves every query shape with a declared index (equality, then criterion or sort)', () => {
    const uncovered = new Map<string, string>();
    for (const query of queries) {
      const filter = selective(query.filter, query.sort);
      const result = coverage(RESOURCE_INDEXES, filter, query.sort);
      if (acceptable(result, query.sort)) continue;
      const shape = shapeKey(filter, query.sort);
      if (!uncovered.has(shape)) uncovered.set(shape, `${query.origin} → ${result.verdict}: ${shape}`);
    }
    expect([...uncovered.values()]).toEqual([]);
  });

  it('pages every listing by the default sort, _id, _lastUpdated and the sort-indexed parameters in index order', () => {
    const listings = queries.filter((q) => q.sort.length > 0 && !isInMemorySortOfListing(coverage(RESOURCE_INDEXES, selective(q.filter, q.sort), q.sort), q.sort));
    const walked = listings.filter((q) => {
      const filter = selective(q.filter, q.sort);
      const rest = predicatesOf(filter).filter((p) => !(p.kind === 'path' && ['project', 'type', 'deleted'].includes(p.path)));
      return rest.length === 0;
    });
    const walkedSorts = new Set(walked.map((q) => q.sort.map(([field, dir]) => `${dir === 1 ? '' : '-'}${field}`).join(',')));
    for (const field of ['id', 'lastUpdated', ...SORT_INDEXED_CODES.map((code) => `sort.${code}`)]) {
      expect(walkedSorts).toContain(`${field},_id`);
      expect(walkedSorts).toContain(`-${field},-_id`);
    }
    expect(walkedSorts).toContain('_id');
    const notBacked = walked.filter((q) => !coverage(RESOURCE_INDEXES, selective(q.filter, q.sort), q.sort).sortBacked);
    expect(notBacked.map((q) => `${q.origin} ${JSON.stringify(q.sort)}`)).toEqual([]);
  });

  it('reports a query no index serves', () => {
    const onlyWildcard: DeclaredIndex[] = [{ name: 'wildcard', key: { 'index.$**': 1 } }];
    expect(coverage(onlyWildcard, { project: 'p', type: 'Patient', deleted: false, 'index.name': { $elemMatch: { n: /^ab/ } } }, [['_id', 1]]).verdict).toBe('none');
    const scoped: DeclaredIndex[] = [{ name: 'scope', key: { project: 1, type: 1, _id: 1 } }];
    const missing = { project: 'p', type: 'Patient', deleted: false, 'index.name': { $exists: false } };
    expect(coverage(scoped, missing, [['sort.name', 1], ['_id', 1]])).toEqual({ verdict: 'scope', indexes: ['scope'], sortBacked: false });
    expect(coverage(scoped, missing, [['_id', -1]])).toEqual({ verdict: 'sort', indexes: ['scope'], sortBacked: true });
    expect(coverage(RESOURCE_INDEXES, { project: 'p', type: 'Patient', 'index.name': { $elemMatch: { n: /^ab/ } } }).indexes).toEqual(['project_type_index_wildcard']);
    // Mixed directions cannot be read from one index.
    expect(coverage(RESOURCE_INDEXES, { project: 'p', type: 'Patient' }, [['sort.date', -1], ['_id', 1]]).sortBacked).toBe(false);
    expect(coverage(RESOURCE_INDEXES, { project: 'p', type: 'Patient' }, [['sort.date', -1], ['_id', -1]]).sortBacked).toBe(true);
    expect(() => predicatesOf({ project: 'p', $where: 'true' })).toThrow(TypeError);
  });

  it('serves instance, type and project history newest first', () => {
    for (const query of [
      { project: 'p' },
      { project: 'p', since: '2026-01-01T00:00:00.000Z', before: '2026-02-01T00:00:00.000Z' },
      { project: 'p', type: 'Patient' },
      { project: 'p', type: 'Patient', before: '2026-02-01T00:00:00.000Z' },
      { project: 'p', type: 'Patient', id: 'a', since: '2026-01-01T00:00:00.000Z' },
    ]) {
      const filter = historyFilter(query);
      const result = coverage(
        HISTORY_INDEXES.map((index) => ({ ...index, key: index.key })),
        filter,
        HISTORY_SORT,
      );
      expect({ query, sortBacked: result.sortBacked }).toEqual({ query, sortBacked: true });
    }
  });
});
