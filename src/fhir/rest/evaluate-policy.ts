/**
 * `POST [base]/$evaluate-policy`: how the AccessPolicies would judge a request of a principal
 * (docs/access-policies.md). The principal comes from the body; the caller must be an owner or admin, which
 * the FHIR router's authentication enforces for every FHIR request until policies are enforced per request.
 * TODO(policy-wiring): check `ctx.auth` is an owner/admin here once other callers reach the FHIR API.
 */
import { evaluatePolicy } from '../../policy/evaluate-policy';
import type { RouteParams } from './context';
import type { FhirContext, FhirRequest } from './fhir-request';
import type { FhirResponse } from './respond';

/** `POST [base]/$evaluate-policy` */
export async function evaluatePolicyHandler(ctx: FhirContext, req: FhirRequest, _params: RouteParams): Promise<FhirResponse> {
  const body = await evaluatePolicy(ctx, req.body);
  return { status: 200, body: body as unknown as Record<string, unknown> };
}
