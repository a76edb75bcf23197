/**
 * The check a write passes just before it is stored (the repository calls it against the version the write
 * replaces, again on every retry), docs/access-policies.md "404 or 403" and "Writing auth resources":
 * - the auth-resource guards (escalation.ts) for callers without full access, whatever the policies say;
 * - when the request is judged per resource: the scopes and the policies, for the new version (`%resource`) and the
 *   version it replaces (`%before`), both within the scopes;
 * - an update that finds its id free is judged as a create.
 * Before any of this, a write to a resource the caller may not read is answered as for an unknown id (the repository
 * asks `known`, see the access-controlled repository): 404 for a patch or a delete, whatever its `If-Match` or patch
 * says; for an update, the answer a create of the same body would get (403 when refused; 409 when it would be
 * permitted, since the id is taken). A refusal of anything the caller may read is a 403 with the reason.
 */
import type { PolicyPrincipal, PolicyRequest } from '../../policy/types';
import { ForbiddenError, ResourceNotFoundError } from '../errors';
import type { Resource, WriteCheck } from '../repository/repository';
import type { AuthRecordReader } from './auth-record-reader';
import { escalationReason } from './escalation';
import type { AccessJudge } from './judge';

/** What the check needs of the caller and the request. */
export interface WriteCheckDeps {
  judge: AccessJudge;
  /** The write request (`%request`). */
  request: PolicyRequest;
  principal: PolicyPrincipal;
  /** The caller has full access to the project (no guard applies). */
  administrator: boolean;
  /** What the guards read of the stored auth resources. */
  reader: AuthRecordReader;
}

/**
 * A 404 as for an id that does not exist.
 * @param type - the type
 * @param id - the id
 * @returns the error
 */
export function notFound(type: string, id: string): ResourceNotFoundError {
  return new ResourceNotFoundError(`${type}/${id} not found`);
}

/**
 * The 403 of a request refused whatever the resource; a scope refusal carries the RFC 6750 challenge.
 * @param by - what refused
 * @param interaction - the interaction refused
 * @param type - its type
 * @param detail - what the refused interaction needs, appended to the description
 * @returns the error
 */
export function refusalError(by: 'scope' | 'policy', interaction: string, type: string | undefined, detail?: string): ForbiddenError {
  const on = `${type ? ` on ${type}` : ''}${detail ? ` (${detail})` : ''}`;
  if (by === 'policy') return new ForbiddenError(`The access policies do not permit ${interaction}${on}`);
  const description = `The token's scopes do not permit ${interaction}${on}`;
  const error = new ForbiddenError(description);
  error.headers = { 'WWW-Authenticate': `Bearer error="insufficient_scope", error_description="${description}"` };
  return error;
}

/**
 * Builds the check of one write request.
 * @param deps - the caller's judge, request, principal and the guards' reader
 * @param perResource - the request is judged per resource (otherwise only the guards apply)
 * @returns the check
 */
export function writeCheck(deps: WriteCheckDeps, perResource: boolean): WriteCheck {
  const { judge, request, principal, administrator, reader } = deps;
  const asCreate: PolicyRequest = { ...request, interaction: 'create' };
  return async (next, before, asFreeId = false) => {
    // An update that finds its id free creates the resource: it is judged as a create (scopes `c`, create rules).
    const variant = before === undefined && next !== undefined && request.interaction !== 'create' ? asCreate : request;
    let judged = perResource;
    if (variant !== request) {
      const verdict = await judge.verdict(variant);
      if (verdict.kind === 'refused') throw refusalError(verdict.by, 'create', variant.resourceType);
      judged = verdict.perResource || verdict.scope.kind === 'some';
    }
    const reason = administrator ? undefined : await escalationReason(principal, next, before, reader, asFreeId);
    if (reason !== undefined) throw new ForbiddenError(`Forbidden: ${reason}`);
    const subject = (next ?? before) as Resource;
    // The new version and the one it replaces must both be within the scopes; the policies see both.
    if (judged && !((await judge.permits(variant, subject, undefined, before)) && (before === undefined || next === undefined || judge.inScope(variant, before)))) {
      throw new ForbiddenError(`The access policies do not permit this ${variant.interaction} of ${subject.resourceType}`);
    }
  };
}
