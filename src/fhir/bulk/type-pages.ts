/**
 * The resources of one type an export writes, read as the paged searches `GET [base]/[type]?...&_count=N` of the
 * job's token would read them: each page is one search through the access-controlled repository (scopes, the
 * patient compartment, the client's AccessPolicies), judged and recorded as its own `search-type` request, and
 * handed on before the next is read, so memory holds one page whatever the export's size.
 */
import { describeRequest } from '../../policy/request';
import type { AccessControlledRepository } from '../access/access-controlled-repository';
import { recordDecision } from '../access/decision';
import { RequestBudget } from '../budget';
import { encodeCursor } from '../search/cursor';
import { executeSearch } from '../search/execute';
import type { FhirContext } from '../rest/fhir-request';

/** What a page search runs in. */
export type PageContext = Omit<FhirContext, 'repo' | 'budget' | 'auth'>;

/** One search of an export: a type, its criteria and the compartment it is limited to. */
export interface TypeSearch {
  type: string;
  /** Search criteria (a `_typeFilter`'s and `_lastUpdated` for `_since`). */
  query: Array<[string, string]>;
  /** Patient and group level: the patients (or `any` patient) whose compartments are exported. */
  compartmentPatients?: readonly string[] | 'any';
}

/**
 * Pages through a search as the caller.
 * @param repo - the caller's repository (not bound to a request: each page binds it)
 * @param context - the project, base URL and configuration
 * @param search - the search
 * @param pageSize - resources per page
 * @yields each page's resources (public views)
 */
export async function* typePages(
  repo: AccessControlledRepository,
  context: PageContext,
  search: TypeSearch,
  pageSize: number,
): AsyncGenerator<Array<Record<string, unknown>>> {
  let cursor: string | undefined;
  for (;;) {
    // `_total=none`: a page needs no count (counting every page would cost in proportion to the type's size).
    const query: Array<[string, string]> = [...search.query, ['_count', String(pageSize)], ['_total', 'none'], ...(cursor ? [['_cursor', cursor] as [string, string]] : [])];
    const line = { method: 'GET', path: [search.type], query };
    const budget = new RequestBudget(context.config.maxResponseBytes, context.config.requestTimeoutMs);
    const pageContext = { ...context, budget };
    const { page } = await recordDecision(repo.decisions, line, async (note, subject) => {
      subject({ interaction: 'search-type', resourceType: search.type, query });
      const ctx: FhirContext = { ...pageContext, repo: repo.forRequest(describeRequest(line), pageContext, note) };
      const result = await executeSearch(ctx, { types: [search.type], compartmentPatients: search.compartmentPatients }, query, { strict: true });
      return { status: 200, page: result.page };
    });
    yield page.entries.map((entry) => entry.doc.resource ?? {});
    const last = page.entries[page.entries.length - 1];
    if (!page.hasMore || !last) return;
    cursor = encodeCursor({ snapshot: page.cursor.snapshot, direction: 'next', key: last.key });
  }
}
