/**
 * The judgement behind `$evaluate-policy` (docs/access-policies.md "$evaluate-policy"): how a principal's
 * policies judge a request, without running it. The stored resource (`%resource` for read/delete, `%before` for
 * update/patch/delete) is read with the server's authority, and a patch is applied to it to get the new
 * `%resource`; attributes are fetched with the server's authority too. Only the access-controlled repository calls
 * it, for callers with full access to the project.
 */
import type { PrincipalClaims } from '../../policy/principal';
import { policyView } from '../../policy/cache';
import { PolicySession } from '../../policy/decide';
import { describeRequest } from '../../policy/request';
import { planSearch, type SearchPlan } from '../../policy/search-plan';
import type { AttributeFetcher, Decision, PolicyPrincipal, PolicyRequest, PolicyResource } from '../../policy/types';
import { FhirError } from '../errors';
import { applyJsonPatch } from '../repository/json-patch';
import type { FhirRepository } from '../repository/repository';

/** Loads a principal (with its policies) by the claims a token would carry. */
export type PrincipalLoader = (claims: PrincipalClaims) => Promise<PolicyPrincipal>;

/** What `$evaluate-policy` asks: a principal and a request line. */
export interface ExplainInput {
  claims: PrincipalClaims;
  method: string;
  /** Path segments after the FHIR base. */
  path: string[];
  query: Array<[string, string]>;
  body?: unknown;
}

/** The answer. */
export interface Explanation {
  decision: Decision;
  /** The request as the policies see it. */
  request: PolicyRequest;
  /** For searches and history: how results would be filtered. */
  plan?: SearchPlan;
}

/** What the explanation reads with the server's authority. */
export interface ExplainDeps {
  repo: FhirRepository;
  principals: PrincipalLoader;
  fetcher: AttributeFetcher;
}

const SEARCH_LIKE = new Set(['search-type', 'search-system', 'history-type', 'history-system']);

async function storedResource(repo: FhirRepository, request: PolicyRequest, versionId: string | undefined): Promise<PolicyResource | undefined> {
  if (!request.resourceType || !request.id) return undefined;
  try {
    const doc = versionId ? await repo.vread(request.resourceType, request.id, versionId) : await repo.read(request.resourceType, request.id);
    return policyView(doc.resource);
  } catch (err) {
    if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
    throw err;
  }
}

/** `%resource` and `%before` for the request, as the enforcement point would set them. */
async function resourcesFor(repo: FhirRepository, request: PolicyRequest, input: ExplainInput): Promise<{ resource?: PolicyResource; before?: PolicyResource }> {
  const stored = await storedResource(repo, request, request.interaction === 'vread' ? input.path[3] : undefined);
  const body = typeof input.body === 'object' && input.body !== null && !Array.isArray(input.body) ? (input.body as PolicyResource) : undefined;
  switch (request.interaction) {
    case 'create':
      return { resource: body };
    case 'update':
      return { resource: body, before: stored };
    case 'patch':
      return { resource: stored ? (applyJsonPatch(stored, input.body) as PolicyResource) : undefined, before: stored };
    case 'delete':
      return { resource: stored, before: stored };
    default:
      return { resource: stored };
  }
}

/**
 * Judges the request of the input's principal.
 * @param input - the principal's claims and the request line
 * @param deps - the repository, the principal loader and the attribute fetcher (server authority)
 * @returns the decision, the request and, for searches and history, the plan
 */
export async function explainRequest(input: ExplainInput, deps: ExplainDeps): Promise<Explanation> {
  const request = describeRequest(input);
  const principal = await deps.principals(input.claims);
  const session = new PolicySession(principal, request, { fetcher: deps.fetcher });
  const { resource, before } = await resourcesFor(deps.repo, request, input);
  const decision = await session.decide(resource, before);
  const plan = SEARCH_LIKE.has(request.interaction) ? await planSearch(session) : undefined;
  return { decision, request, plan };
}
