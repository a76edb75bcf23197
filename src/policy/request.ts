/**
 * Describes a FHIR REST request (method, path segments after the FHIR base, query) as the {@link PolicyRequest}
 * policies see as `%request`. Interaction names are the R4 restful-interaction codes
 * (https://hl7.org/fhir/R4/valueset-type-restful-interaction.html); a compartment search
 * (`Patient/1/Observation`) is a `search-type` on the compartment's member type with `compartment` set.
 */
import { BadRequestError } from '../fhir/errors';
import type { PolicyInteraction, PolicyRequest } from './types';

/** A request as the route table sees it. */
export interface RequestLine {
  method: string;
  /** Decoded path segments after the FHIR base. */
  path: string[];
  query: Array<[string, string]>;
  body?: unknown;
}

const TYPE = /^[A-Z][A-Za-z]+$/;

function interactionOf(method: string, path: string[], body: unknown): Pick<PolicyRequest, 'interaction' | 'resourceType' | 'id' | 'compartment' | 'operation'> | undefined {
  const [a, b, c, d] = path;
  const operationAt = path.findIndex((s) => s.startsWith('$'));
  if (operationAt >= 0 && operationAt === path.length - 1) {
    const [type, id] = path.slice(0, operationAt);
    return { interaction: 'operation', operation: path[operationAt]?.slice(1), resourceType: type, id };
  }
  const one = (interaction: PolicyInteraction, extra: Partial<PolicyRequest> = {}) => ({ interaction, ...extra });
  if (path.length === 0) {
    if (method === 'GET' || method === 'HEAD') return one('search-system');
    const kind = (body as { type?: unknown } | undefined)?.type;
    if (method === 'POST') return one(kind === 'transaction' ? 'transaction' : 'batch');
    return undefined;
  }
  if (path.length === 1 && a === 'metadata') return one('capabilities');
  if (path.length === 1 && a === '_history') return one('history-system');
  if (path.length === 1 && a === '_search') return one('search-system');
  if (!a || !TYPE.test(a)) return undefined;
  if (path.length === 1) {
    const byMethod: Record<string, PolicyInteraction> = { GET: 'search-type', HEAD: 'search-type', POST: 'create', PUT: 'update', DELETE: 'delete' };
    const interaction = byMethod[method];
    return interaction ? one(interaction, { resourceType: a }) : undefined;
  }
  if (b === '_history' && path.length === 2) return one('history-type', { resourceType: a });
  if (b === '_search' && path.length === 2) return one('search-type', { resourceType: a });
  if (!b) return undefined;
  if (path.length === 2) {
    const byMethod: Record<string, PolicyInteraction> = { GET: 'read', HEAD: 'read', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
    const interaction = byMethod[method];
    return interaction ? one(interaction, { resourceType: a, id: b }) : undefined;
  }
  if (c === '_history' && path.length === 3) return one('history-instance', { resourceType: a, id: b });
  if (c === '_history' && path.length === 4 && d) return one('vread', { resourceType: a, id: b });
  if (path.length === 3 && c && TYPE.test(c)) return one('search-type', { resourceType: c, compartment: { type: a, id: b } });
  // `Patient/1/*`: every type of the compartment.
  if (path.length === 3 && c === '*') return one('search-type', { compartment: { type: a, id: b } });
  return undefined;
}

/**
 * Describes a request for the policies.
 * @param line - method, path, query and body
 * @returns `%request`
 * @throws BadRequestError when the path is not a FHIR interaction
 */
export function describeRequest(line: RequestLine): PolicyRequest {
  const method = line.method.toUpperCase();
  const described = interactionOf(method, line.path, line.body);
  if (!described) {
    throw new BadRequestError(`${method} /${line.path.join('/')} is not a FHIR interaction`);
  }
  // Only the members that have a value, added in one order (no deletes: the object keeps a fast shape).
  const request: PolicyRequest = { interaction: described.interaction, parameters: line.query.map(([name, value]) => ({ name, value })) };
  if (described.resourceType !== undefined) request.resourceType = described.resourceType;
  if (described.id !== undefined) request.id = described.id;
  if (described.compartment !== undefined) request.compartment = described.compartment;
  if (described.operation !== undefined) request.operation = described.operation;
  if (line.body !== undefined) request.body = line.body;
  return request;
}
