/**
 * `$evaluate-policy`: explains how the policies judge a request of a principal, without running it
 * (docs/access-policies.md, "$evaluate-policy").
 *
 * In (Parameters): `principal` (valueReference Membership/<id> or ClientApplication/<id>, required), `method`
 * (valueCode, required), `url` (valueString, relative to the FHIR base, with its query), `resource` (the body of
 * a create/update) or `body` (valueString JSON, e.g. a JSON Patch), `scope` (valueString, space-separated, for
 * `%scopes`), `client` (valueReference ClientApplication/<id>: the app a user principal uses).
 * Out (Parameters): `decision` (permit | deny), `reason`, `policy`, `rule`, `interaction`, `search`
 * (permit-all | deny-all | per-resource, for searches and history), and one `trace` per rule considered.
 * The stored resource (`%resource` for read/delete, `%before` for update/patch/delete) is read from the
 * repository; a patch is applied to it to get the new `%resource`.
 */
import type { Parameters, ParametersParameter } from 'fhir/r4';
import { BadRequestError, FhirError } from '../fhir/errors';
import { applyJsonPatch } from '../fhir/repository/json-patch';
import type { FhirContext } from '../fhir/rest/fhir-request';
import { policyCacheFor, policyView } from './cache';
import { PolicySession } from './decide';
import { repositoryAttributeFetcher } from './fetcher';
import { loadPrincipal, type PrincipalClaims } from './principal';
import { describeRequest } from './request';
import { planSearch, type SearchPlan } from './search-plan';
import type { Decision, PolicyRequest, PolicyResource } from './types';

/** The parsed input of `$evaluate-policy`. */
export interface EvaluatePolicyInput {
  claims: PrincipalClaims;
  method: string;
  path: string[];
  query: Array<[string, string]>;
  body?: unknown;
}

const PRINCIPAL = /^(Membership|ClientApplication)\/([A-Za-z0-9\-.]{1,64})$/;
const CLIENT = /^ClientApplication\/([A-Za-z0-9\-.]{1,64})$/;
const SEARCH_LIKE = new Set(['search-type', 'search-system', 'history-type', 'history-system']);

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
export function parseEvaluatePolicyInput(body: unknown, project: string, baseUrl: string): EvaluatePolicyInput {
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

async function storedResource(ctx: FhirContext, request: PolicyRequest, versionId: string | undefined): Promise<PolicyResource | undefined> {
  if (!request.resourceType || !request.id) return undefined;
  try {
    const { inner } = ctx.repo;
    const doc = versionId ? await inner.vread(request.resourceType, request.id, versionId) : await inner.read(request.resourceType, request.id);
    return policyView(doc.resource);
  } catch (err) {
    if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
    throw err;
  }
}

/** `%resource` and `%before` for the request, as the enforcement point would set them. */
async function resourcesFor(ctx: FhirContext, request: PolicyRequest, input: EvaluatePolicyInput): Promise<{ resource?: PolicyResource; before?: PolicyResource }> {
  const stored = await storedResource(ctx, request, request.interaction === 'vread' ? input.path[3] : undefined);
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
 * Runs `$evaluate-policy`.
 * @param ctx - the project context
 * @param body - the input Parameters
 * @returns the output Parameters
 */
export async function evaluatePolicy(ctx: FhirContext, body: unknown): Promise<Parameters> {
  const input = parseEvaluatePolicyInput(body, ctx.repo.project, ctx.baseUrl);
  const request = describeRequest(input);
  const principal = await loadPrincipal(policyCacheFor(ctx.repo.store), ctx.repo.store, input.claims);
  const session = new PolicySession(principal, request, { fetcher: repositoryAttributeFetcher(ctx) });
  const { resource, before } = await resourcesFor(ctx, request, input);
  const decision = await session.decide(resource, before);
  const plan = SEARCH_LIKE.has(request.interaction) ? await planSearch(session) : undefined;
  return decisionParameters(decision, request, plan);
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
