/**
 * The attribute fetcher of a request (`AccessPolicy.attribute`, docs/access-policies.md "Attributes"): `read` is a
 * keyed read, `search-type` runs the FHIR search layer (strict: unknown parameters are errors, at least one
 * criterion, at most MATCH_LIMIT results). Attributes are fetched with the server's authority, not the caller's:
 * they are part of the policy, written by an administrator, and only ever reach the rules, never a response. The
 * access-controlled repository creates the fetcher with a repository of that authority; nothing else does.
 */
import { policyView } from '../../policy/cache';
import type { AttributeFetcher, PolicyResource } from '../../policy/types';
import { isResourceType } from '../definitions';
import { FhirError } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { matchResources } from '../search/match';

/**
 * Builds the fetcher.
 * @param ctx - a context whose repository has the server's authority
 * @returns the fetcher
 */
export function attributeFetcher(ctx: FhirContext): AttributeFetcher {
  return {
    async read(type: string, id: string): Promise<PolicyResource | undefined> {
      if (!isResourceType(type)) return undefined;
      try {
        return policyView((await ctx.repo.read(type, id)).resource);
      } catch (err) {
        if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
        throw err;
      }
    },
    async search(type: string, query: Array<[string, string]>): Promise<PolicyResource[]> {
      if (!isResourceType(type)) throw new Error(`Unknown resource type ${type}`);
      const docs = await matchResources(ctx, type, query);
      return docs.map((doc) => policyView(doc.resource as Record<string, unknown>));
    },
  };
}
