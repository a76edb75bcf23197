/**
 * `POST [base]/$evaluate-policy`: how the AccessPolicies would judge a request of a principal
 * (docs/access-policies.md). The principal comes from the body; the caller must have full access to the
 * project (an owner or admin, or a client targeted by a full-access policy).
 */
import { evaluatePolicy } from '../../policy/evaluate-policy';
import type { RouteParams } from './context';
import type { FhirContext, FhirRequest } from './fhir-request';
import type { FhirResponse } from './respond';

/** `POST [base]/$evaluate-policy` */
export async function evaluatePolicyHandler(ctx: FhirContext, req: FhirRequest, _params: RouteParams): Promise<FhirResponse> {
  ctx.repo.requireAdministrator('$evaluate-policy');
  const body = await evaluatePolicy(ctx, req.body);
  return { status: 200, body: body as unknown as Record<string, unknown> };
}
