/**
 * The check a write passes just before it is stored (the repository calls it against the version the write
 * replaces, again on every retry), docs/access-policies.md "404 or 403" and "Writing auth resources":
 * - the auth-resource guards (escalation.ts) for callers without full access, whatever the policies say;
 * - when the request is judged per resource: the scopes and the policies, for the new version (`%resource`) and the
 *   version it replaces (`%before`), both within the scopes;
 * - a refusal of a write to a resource the caller may not read is answered as for an unknown id: 404 for a patch or
 *   a delete; for an update, the answer a create of the same body would get (403 when refused; 409 when it would be
 *   permitted, since the id is taken). A refusal of anything the caller may read is a 403 with the reason.
 */
import type { PolicyPrincipal, PolicyRequest } from '../../policy/types';
import { ConflictError, ForbiddenError, ResourceNotFoundError } from '../errors';
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
 * Builds the check of one write request.
 * @param deps - the caller's judge, request, principal and the guards' reader
 * @param perResource - the request is judged per resource (otherwise only the guards apply)
 * @returns the check
 */
export function writeCheck(deps: WriteCheckDeps, perResource: boolean): WriteCheck {
  const { judge, request, principal, administrator, reader } = deps;
  const allowed = async (next: Resource | undefined, before: Resource | undefined): Promise<string | true> => {
    const reason = administrator ? undefined : await escalationReason(principal, next, before, reader);
    if (reason !== undefined) return `Forbidden: ${reason}`;
    const subject = (next ?? before) as Resource;
    // The new version and the one it replaces must both be within the scopes; the policies see both.
    if (perResource && !((await judge.permits(request, subject, undefined, before)) && (before === undefined || next === undefined || judge.inScope(request, before)))) {
      return `The access policies do not permit this ${request.interaction} of ${subject.resourceType}`;
    }
    return true;
  };
  return async (next, before) => {
    const verdict = await allowed(next, before);
    if (verdict === true) return;
    const subject = (next ?? before) as Resource;
    if (before && !(await judge.mayRead(before))) {
      // The caller may not know `before` exists: answer as for an unknown id.
      if (next === undefined || request.interaction === 'patch') throw notFound(subject.resourceType, String(subject.id));
      const asCreate = await allowed(next, undefined);
      if (asCreate !== true) throw new ForbiddenError(asCreate);
      throw new ConflictError(`${subject.resourceType}/${String(subject.id)} cannot be created: the id is in use`);
    }
    throw new ForbiddenError(verdict);
  };
}
