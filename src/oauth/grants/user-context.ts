/** The user side of a grant: whether the User and Membership are still active, and the Membership's link. */
import { referenceOf, RELATIVE_REFERENCE } from '../../fhir/reference-patterns';
import type { OAuthDeps } from '../deps';

/** What tokens need to know about the user. */
export interface UserContext {
  active: boolean;
  /** `Membership.link.reference` (`Patient/1`), if any. */
  fhirUser?: string;
  role?: string;
}

/**
 * Reads the user and membership of a grant.
 * @param deps - OAuth dependencies
 * @param project - the project key
 * @param userId - the User id
 * @param membershipId - the Membership id
 * @returns whether both are active, the fhirUser link and the user's role
 */
export async function userContext(deps: OAuthDeps, project: string, userId: string, membershipId?: string): Promise<UserContext> {
  const user = await deps.storage.resources.readCurrent(project, 'User', userId);
  if (!user || user.deleted || !user.resource || user.resource.active === false) return { active: false };
  const role = typeof user.resource.role === 'string' ? user.resource.role : undefined;
  if (!membershipId) return { active: true, role };
  const membership = await deps.storage.resources.readCurrent(project, 'Membership', membershipId);
  const resource = membership && !membership.deleted ? membership.resource : undefined;
  if (!resource || resource.active === false) return { active: false };
  const link = referenceOf(resource.link);
  return { active: true, role, fhirUser: link !== undefined && RELATIVE_REFERENCE.test(link) ? link : undefined };
}
