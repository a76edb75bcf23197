/**
 * Reading what a caller may see of the project's live documents under a {@link TypePlan}: the plan's filter goes
 * to the store, and when the plan judges per resource the reads go on past what it refuses, so that pages are full,
 * counts exact and limits count only visible documents. Documents come back as clients may see them (write-only
 * fields removed; a plan's view applied, and the search's criteria tested again on what it shows).
 */
import { type MongoQuery, mongoQuery } from '../../storage/mongo-query';
import type { Filter, ResourceDocument, Sort } from '../../storage/ports';
import type { FhirRepository } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';
import type { RequestBudget } from '../budget';
import type { Cursor } from '../search/cursor';
import { fetchPage, type Page, type Placeable, type PositionedDocument } from './paging';
import type { TypePlan } from './type-plan';

/** Documents judged per batch when reading on under per-resource judgement. */
const SCAN_BATCH = 200;

function planned(plan: TypePlan, filter: Filter): Filter {
  return plan.filter ? { $and: [filter, plan.filter] } : filter;
}

/** Decides whether one stored document is shown under a plan, and how. */
type Shown = (doc: ResourceDocument) => Promise<ResourceDocument | undefined>;

/**
 * How a plan shows the documents a filter found: accepted by the plan, as public views, through the plan's view
 * (when the view changed a document, the filter must still match what is shown: a condition on withheld content
 * finds nothing).
 * @param plan - the plan
 * @param filter - the full filter the store was asked
 * @returns the decision
 */
function shownUnder(plan: TypePlan, filter: Filter): Shown {
  let criteria: MongoQuery | undefined;
  return async (doc) => {
    if (!(await plan.accept(doc, true))) return undefined;
    const shown = publicDocument(doc);
    if (!plan.view) return shown;
    const viewed = await plan.view(shown);
    if (viewed === shown) return shown;
    criteria ??= mongoQuery(filter);
    return criteria.test(viewed as unknown as Record<string, unknown>) ? viewed : undefined;
  };
}

/**
 * A document whose resource is the public view (write-only fields removed).
 * @param doc - a stored document
 * @returns the document itself when nothing is write-only, else a copy with the public resource
 */
export function publicDocument(doc: ResourceDocument): ResourceDocument {
  const resource = doc.resource && toPublicView(doc.resource);
  return resource === doc.resource ? doc : { ...doc, resource };
}

/**
 * Visible documents matching a filter, in `_id` order.
 * @param repo - the project's repository
 * @param plan - the plan
 * @param filter - the search layer's filter
 * @param limit - the most to return
 * @param budget - the request's budget (its time is checked while reading on)
 * @returns the documents
 */
export async function collectVisible(repo: FhirRepository, plan: TypePlan, filter: Filter, limit: number, budget?: RequestBudget): Promise<ResourceDocument[]> {
  if (plan.refused || limit <= 0) return [];
  const full = planned(plan, filter);
  const sort: Sort = [['_id', 1]];
  if (!plan.perResource) return (await repo.search(full, { sort, limit })).map(publicDocument);
  const shown = shownUnder(plan, full);
  const visible: ResourceDocument[] = [];
  let after: string | undefined;
  for (;;) {
    budget?.checkTime();
    const docs = await repo.search(after === undefined ? full : { $and: [{ _id: { $gt: after } }, full] }, { sort, limit: SCAN_BATCH });
    for (const doc of docs) {
      await budget?.breathe();
      const visibleDoc = await shown(doc);
      if (!visibleDoc) continue;
      visible.push(visibleDoc);
      if (visible.length >= limit) return visible;
    }
    if (docs.length < SCAN_BATCH) return visible;
    after = docs[docs.length - 1]?._id;
  }
}

/**
 * The number of visible documents matching a filter.
 * @param repo - the project's repository
 * @param plan - the plan
 * @param filter - the search layer's filter
 * @param budget - the request's budget (its time is checked while reading on)
 * @returns the count
 */
export async function countVisible(repo: FhirRepository, plan: TypePlan, filter: Filter, budget?: RequestBudget): Promise<number> {
  if (plan.refused) return 0;
  const full = planned(plan, filter);
  if (!plan.perResource) return repo.count(full);
  const shown = shownUnder(plan, full);
  let count = 0;
  let after: string | undefined;
  for (;;) {
    budget?.checkTime();
    const docs = await repo.search(after === undefined ? full : { $and: [{ _id: { $gt: after } }, full] }, { sort: [['_id', 1]], limit: SCAN_BATCH });
    for (const doc of docs) {
      await budget?.breathe();
      if (await shown(doc)) count++;
    }
    if (docs.length < SCAN_BATCH) return count;
    after = docs[docs.length - 1]?._id;
  }
}

/**
 * One page of the visible matches: reads on from the cursor until `count` visible matches (and one more, to know
 * whether there is a next page) are found, so pages are full and the links stay consistent.
 * @param repo - the project's repository
 * @param plan - the plan
 * @param filter - the search layer's filter
 * @param sort - the sort
 * @param cursor - where the page starts
 * @param count - the page size
 * @param budget - the request's budget (its time is checked while reading on)
 * @param placeable - which older versions may place a resource: those the caller may vread (paging.ts)
 * @returns the page
 */
export async function visiblePage(
  repo: FhirRepository,
  plan: TypePlan,
  filter: Filter,
  sort: Sort,
  cursor: Cursor,
  count: number,
  budget?: RequestBudget,
  placeable?: Placeable,
): Promise<Page> {
  if (plan.refused || count === 0) return { entries: [], cursor, hasMore: false };
  const full = planned(plan, filter);
  const asPublic = (entry: PositionedDocument): PositionedDocument => ({ ...entry, doc: publicDocument(entry.doc) });
  if (!plan.perResource) {
    const page = await fetchPage(repo, full, sort, cursor, count, placeable);
    return { ...page, entries: page.entries.map(asPublic) };
  }
  const shown = shownUnder(plan, full);
  const forward = cursor.direction === 'next';
  const visible: PositionedDocument[] = [];
  let at = cursor;
  for (;;) {
    budget?.checkTime();
    const raw = await fetchPage(repo, full, sort, at, Math.max(count, SCAN_BATCH), placeable);
    // In the direction of travel.
    const batch = forward ? raw.entries : [...raw.entries].reverse();
    for (const entry of batch) {
      await budget?.breathe();
      const visibleDoc = await shown(entry.doc);
      if (visibleDoc) visible.push({ ...entry, doc: visibleDoc });
      if (visible.length > count) break;
    }
    const last = batch[batch.length - 1];
    if (visible.length > count || !raw.hasMore || !last) break;
    at = { ...at, key: last.key };
  }
  const entries = visible.slice(0, count);
  if (!forward) entries.reverse();
  return { entries, cursor, hasMore: visible.length > count };
}
