/**
 * Guards on writes of the project's auth resources (DESIGN §5.7, docs/access-policies.md "Writing auth
 * resources") that no AccessPolicy can lift. Callers without full access (owner/admin users, or principals
 * holding a `full-access` policy) may write ClientApplication, User, Membership and AccessPolicy only where a
 * policy permits it, and even then never:
 * - give a User the role owner or admin, or change or delete a User who has one;
 * - write their own User, their own Membership, or (as a client) their own ClientApplication;
 * - write an AccessPolicy whose targets (before or after the write) name their own Membership or client.
 */
import { referenceOf } from '../reference-patterns';
import type { Resource } from '../repository/repository';
import { FULL_ACCESS_ROLES, hasFullAccessRole } from '../../policy/decide';
import type { PolicyPrincipal } from '../../policy/types';

/** Resource types the guards apply to. */
export const AUTH_RESOURCE_TYPES: ReadonlySet<string> = new Set(['ClientApplication', 'User', 'Membership', 'AccessPolicy']);

/**
 * Whether a principal has full access to its project: an owner/admin user, or a caller targeted by a
 * `full-access` AccessPolicy that still compiles (no other policy can narrow it below "everything" for the
 * guards' purpose: such a caller can already write any policy).
 * @param principal - the caller
 * @returns true for full access
 */
export function isAdministrator(principal: PolicyPrincipal): boolean {
  if (!principal.active) return false;
  return hasFullAccessRole(principal) || principal.policies.some((p) => p.engine === 'full-access' && p.brokenReason === undefined);
}

function targets(policy: Resource | undefined): string[] {
  const list = Array.isArray(policy?.target) ? (policy.target as unknown[]) : [];
  return list.map((t) => referenceOf((t as { link?: unknown } | null)?.link)).filter((r): r is string => r !== undefined);
}

function ownUserId(principal: PolicyPrincipal): string | undefined {
  return principal.user?.id;
}

/**
 * Why a write of an auth resource is refused, or undefined when the guards allow it (the policies still decide).
 * @param principal - the caller
 * @param next - the new version (undefined for a delete)
 * @param before - the version replaced (undefined for a create)
 * @returns the reason for refusing, or undefined
 */
export function escalationReason(principal: PolicyPrincipal, next: Resource | undefined, before: Resource | undefined): string | undefined {
  const type = (next ?? before)?.resourceType;
  if (!type || !AUTH_RESOURCE_TYPES.has(type) || isAdministrator(principal)) return undefined;
  const id = (next ?? before)?.id;
  const self = principal.reference;
  const isPrivileged = (user: Resource | undefined): boolean => typeof user?.role === 'string' && FULL_ACCESS_ROLES.has(user.role);
  switch (type) {
    case 'User':
      if (isPrivileged(next) || isPrivileged(before)) return 'only owners and admins may grant, change or remove the owner and admin roles';
      if (id !== undefined && id === ownUserId(principal)) return 'a user may not write their own User resource';
      return undefined;
    case 'Membership': {
      const ownUser = ownUserId(principal);
      if (self === `Membership/${id ?? ''}`) return 'a user may not write their own Membership';
      if (ownUser !== undefined && [next?.user, before?.user].map(referenceOf).includes(`User/${ownUser}`)) {
        return 'a user may not write a Membership of their own User';
      }
      return undefined;
    }
    case 'ClientApplication':
      if (self === `ClientApplication/${id ?? ''}`) return 'a client may not write its own ClientApplication';
      return undefined;
    case 'AccessPolicy':
      if ([...targets(next), ...targets(before)].includes(self)) return `a caller may not write an AccessPolicy that targets ${self}`;
      return undefined;
    default:
      return undefined;
  }
}
