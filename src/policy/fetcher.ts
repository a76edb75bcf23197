/**
 * The attribute fetcher backed by a project's repository: `read` is a keyed read, `search-type` runs the FHIR
 * search layer (strict: unknown parameters are errors, at least one criterion, at most MATCH_LIMIT results).
 * Attributes are fetched with the server's authority, not the caller's: they are part of the policy, written by
 * an admin, and only ever reach the rules, never the response.
 */
import { isResourceType } from '../fhir/definitions';
import { FhirError } from '../fhir/errors';
import type { FhirContext } from '../fhir/rest/fhir-request';
import { matchResources } from '../fhir/search/match';
import { policyView } from './cache';
import type { AttributeFetcher, PolicyResource } from './types';

/**
 * Builds the fetcher for a project.
 * @param ctx - the project context (its repository and configuration)
 * @returns the fetcher
 */
export function repositoryAttributeFetcher(ctx: FhirContext): AttributeFetcher {
  return {
    async read(type: string, id: string): Promise<PolicyResource | undefined> {
      if (!isResourceType(type)) return undefined;
      try {
        return policyView((await ctx.repo.inner.read(type, id)).resource);
      } catch (err) {
        if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
        throw err;
      }
    },
    async search(type: string, query: Array<[string, string]>): Promise<PolicyResource[]> {
      if (!isResourceType(type)) throw new Error(`Unknown resource type ${type}`);
      const docs = await matchResources(ctx, type, query, { asServer: true });
      return docs.map((doc) => policyView(doc.resource as Record<string, unknown>));
    },
  };
}
