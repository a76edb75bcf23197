/**
 * `POST [base]/$evaluate-policy`: how the AccessPolicies would judge a request of a principal, without running it
 * (docs/access-policies.md "$evaluate-policy"). Reserved to callers with full access to the project whose token may
 * read every AccessPolicy (a `user/` or `system/` scope; `patient/` scopes never do).
 *
 * In (Parameters): `principal` (valueReference Membership/<id> or ClientApplication/<id>, required), `method`
 * (valueCode, required), `url` (valueString, relative to the FHIR base, with its query), `resource` (the body of
 * a create/update) or `body` (valueString JSON, e.g. a JSON Patch), `scope` (valueString, space-separated, for
 * `%scopes`), `client` (valueReference ClientApplication/<id>: the app a user principal uses).
 * Out (Parameters): `decision` (permit | deny), `reason`, `policy`, `rule`, `interaction`, `search`
 * (permit-all | deny-all | per-resource, for searches and history), and one `trace` per rule considered.
 */
import type { Parameters, ParametersParameter } from 'fhir/r4';
import type { PrincipalClaims } from '../../../policy/principal';
import type { SearchPlan } from '../../../policy/search-plan';
import type { Decision, PolicyRequest } from '../../../policy/types';
import type { ExplainInput } from '../../access/explain';
import { BadRequestError } from '../../errors';
import type { RouteParams } from '../context';
import type { FhirContext, FhirRequest } from '../fhir-request';
import type { FhirResponse } from '../respond';

const PRINCIPAL = /^(Membership|ClientApplication)\/([A-Za-z0-9\-.]{1,64})$/;
const CLIENT = /^ClientApplication\/([A-Za-z0-9\-.]{1,64})$/;

function parameterValue(parameters: ParametersParameter[], name: string): { value: ParametersParameter; index: number } | undefined {
  const index = parameters.findIndex((p) => p.name === name);
  return index < 0 ? undefined : { value: parameters[index] as ParametersParameter, index };
}

function required<T>(value: T | undefined, message: string, at: string): T {
  if (value === undefined) throw new BadRequestError(message, [at], 'required');
  return value;
}

/**
 * Parses the input Parameters.
 * @param body - the request body
 * @param project - the project key
 * @param baseUrl - the FHIR base URL (an absolute `url` must start with it)
 * @returns the principal claims and the request line
 */
export function parseEvaluatePolicyInput(body: unknown, project: string, baseUrl: string): ExplainInput {
  const input = body as Parameters | undefined;
  if (input?.resourceType !== 'Parameters') throw new BadRequestError('The body must be a Parameters resource', undefined, 'structure');
  const parameters = Array.isArray(input.parameter) ? input.parameter : [];
  const principal = required(parameterValue(parameters, 'principal'), 'The principal parameter is required', 'Parameters.parameter');
  const match = PRINCIPAL.exec(principal.value.valueReference?.reference ?? '');
  if (!match) throw new BadRequestError('principal must be a valueReference to Membership/<id> or ClientApplication/<id>', [`Parameters.parameter[${principal.index}]`]);
  const method = required(parameterValue(parameters, 'method'), 'The method parameter is required', 'Parameters.parameter');
  const url = required(parameterValue(parameters, 'url'), 'The url parameter is required', 'Parameters.parameter');
  const client = parameterValue(parameters, 'client');
  const clientId = client ? CLIENT.exec(client.value.valueReference?.reference ?? '')?.[1] : undefined;
  if (client && !clientId) throw new BadRequestError('client must be a valueReference to ClientApplication/<id>', [`Parameters.parameter[${client.index}]`]);
  const methodCode = (method.value.valueCode ?? method.value.valueString ?? '').toUpperCase();
  if (!['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(methodCode)) throw new BadRequestError('method must be GET, POST, PUT, PATCH or DELETE', [`Parameters.parameter[${method.index}]`]);
  let text = url.value.valueString ?? url.value.valueUri ?? url.value.valueUrl ?? '';
  if (text.startsWith(baseUrl)) text = text.slice(baseUrl.length);
  if (/^[a-z]+:/i.test(text)) throw new BadRequestError('url must be relative to the FHIR base (Patient/1, Observation?code=x)', [`Parameters.parameter[${url.index}]`]);
  const parsed = new URL(text.replace(/^\/+/, ''), 'http://base/');
  const scope = parameterValue(parameters, 'scope')?.value.valueString;
  const claims: PrincipalClaims = { project, scopes: scope ? scope.split(' ').filter((s) => s !== '') : [] };
  if (match[1] === 'Membership') claims.membershipId = match[2];
  else claims.clientId = match[2];
  if (clientId) claims.clientId = clientId;
  return {
    claims,
    method: methodCode,
    path: parsed.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s)),
    query: [...parsed.searchParams.entries()],
    body: readBody(parameters),
  };
}

function readBody(parameters: ParametersParameter[]): unknown {
  const resource = parameterValue(parameters, 'resource')?.value.resource;
  if (resource) return resource;
  const body = parameterValue(parameters, 'body');
  if (!body) return undefined;
  try {
    return JSON.parse(body.value.valueString ?? '') as unknown;
  } catch {
    throw new BadRequestError('body must be a valueString holding JSON', [`Parameters.parameter[${body.index}]`]);
  }
}

/**
 * The output Parameters of a decision.
 * @param decision - the decision
 * @param request - the request judged
 * @param plan - for searches and history, how results would be filtered
 * @returns the Parameters resource
 */
export function decisionParameters(decision: Decision, request: PolicyRequest, plan?: SearchPlan): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'decision', valueCode: decision.effect },
    { name: 'reason', valueString: decision.reason },
  ];
  if (decision.policy) parameter.push({ name: 'policy', valueReference: { reference: `AccessPolicy/${decision.policy}` } });
  if (decision.rulePath) parameter.push({ name: 'rule', valueString: decision.rulePath });
  parameter.push({ name: 'interaction', valueCode: request.interaction });
  if (plan) parameter.push({ name: 'search', valueCode: plan.mode }, { name: 'searchReason', valueString: plan.reason });
  for (const entry of decision.trace) {
    const part: ParametersParameter[] = [];
    if (entry.policy) part.push({ name: 'policy', valueReference: { reference: `AccessPolicy/${entry.policy}` } });
    if (entry.rule) part.push({ name: 'rule', valueString: entry.rule });
    if (entry.name) part.push({ name: 'name', valueString: entry.name });
    part.push({ name: 'result', valueCode: entry.result });
    if (entry.detail) part.push({ name: 'detail', valueString: entry.detail });
    parameter.push({ name: 'trace', part });
  }
  return { resourceType: 'Parameters', parameter };
}

/** `POST [base]/$evaluate-policy` */
export async function evaluatePolicyHandler(ctx: FhirContext, req: FhirRequest, _params: RouteParams): Promise<FhirResponse> {
  // Who may ask comes before what is asked: a refused caller learns nothing from the input's validation.
  ctx.repo.requireOperation('$evaluate-policy', '*');
  const input = parseEvaluatePolicyInput(req.body, ctx.project.key, ctx.baseUrl);
  const { decision, request, plan } = await ctx.repo.explain(input);
  return { status: 200, body: decisionParameters(decision, request, plan) as unknown as Record<string, unknown> };
}
