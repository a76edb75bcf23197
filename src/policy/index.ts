/**
 * The AccessPolicy engine's public API (docs/access-policies.md). The enforcement point (src/fhir/access):
 * 1. `loadPrincipal(policyCacheFor(store), store, auth)` once per request;
 * 2. `new PolicySession(principal, describeRequest(line), { fetcher })` per request (or variant of it);
 * 3. `session.decide(resource, before)` per resource, or `planSearch(session)` before a search.
 */
export { assertValidAccessPolicy, compileAccessPolicy, type PolicyCompilation } from './compile';
export { notifyResourceWritten, POLICY_RESOURCE_TYPES, PolicyCache, policyCacheFor, policyView, type PolicyCacheOptions } from './cache';
export { decide, FULL_ACCESS_ROLES, hasFullAccessRole, PolicySession, type DecideOptions } from './decide';
export { loadPrincipal, type PrincipalClaims } from './principal';
export { describeRequest, type RequestLine } from './request';
export { requestFieldsOf, type RequestFields } from './request-fields';
export { planSearch, type SearchPlan } from './search-plan';
export type * from './types';
