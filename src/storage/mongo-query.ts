/**
 * MongoDB query documents evaluated in memory (mingo), for the stores and views that test stored documents and
 * records without a database: the query operators only (`$eq` … `$elemMatch`, `$and`/`$or`/`$nor`/`$not`,
 * `$regex`, `$exists`, …), never JavaScript (`$where`, `$function`). Aggregation, projection and expression
 * operators are not loaded: a filter that uses one is refused when the query is built.
 */
import type { Context as ContextClass, Query } from 'mingo';

// Subpath modules (package `exports`, which this project's TypeScript module resolution does not read; their types
// are the root module's): the root module would load every operator family.
const { Context } = require('mingo/core') as { Context: typeof ContextClass };
const { Query: QueryClass } = require('mingo/query') as { Query: typeof Query };
type QueryOperators = NonNullable<NonNullable<Parameters<typeof ContextClass.init>[0]>['query']>;
const queryOperators = require('mingo/operators/query') as QueryOperators;

const OPTIONS = { scriptEnabled: false, context: Context.init({ query: queryOperators }) } as const;

/** A compiled query document. */
export type MongoQuery = Query;

/**
 * Compiles a query document.
 * @param filter - a MongoDB query document
 * @returns the query (`test(document)`)
 */
export function mongoQuery(filter: Record<string, unknown>): MongoQuery {
  return new QueryClass(filter, OPTIONS);
}
