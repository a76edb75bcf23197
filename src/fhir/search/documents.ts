/**
 * The search layer's access to stored documents: every filter is confined to the caller's project and to live
 * (non-deleted) documents here, in one place, so no search path can forget it.
 */
import type { Filter, FindOptions, ResourceDocument } from '../../storage/ports';
import { toPublicView } from '../repository/write-only-fields';
import type { FhirContext } from '../rest/fhir-request';

function scoped(ctx: FhirContext, filter: Filter): Filter {
  // Spread first: the project and deletion conditions always win over anything in the filter.
  return { ...filter, project: ctx.repo.project, deleted: false };
}

/**
 * Current, live documents of the project that match a filter.
 * @param ctx - the project context
 * @param filter - a filter built by the search layer
 * @param options - sort, skip and limit
 * @returns the stored documents
 */
export async function searchDocuments(ctx: FhirContext, filter: Filter, options: FindOptions = {}): Promise<ResourceDocument[]> {
  return ctx.repo.store.search(scoped(ctx, filter), options);
}

/**
 * The number of current, live documents of the project that match a filter.
 * @param ctx - the project context
 * @param filter - a filter built by the search layer
 * @returns the count
 */
export async function countDocuments(ctx: FhirContext, filter: Filter): Promise<number> {
  return ctx.repo.store.count(scoped(ctx, filter));
}

/**
 * A document whose resource is the public view (write-only fields removed), as clients may see it.
 * @param doc - a stored document
 * @returns a copy with the public resource
 */
export function publicDocument(doc: ResourceDocument): ResourceDocument {
  return doc.resource ? { ...doc, resource: toPublicView(doc.resource) } : doc;
}
