/**
 * Guards on writes of the project's auth resources (DESIGN §5.7, docs/access-policies.md "Writing auth
 * resources") that no AccessPolicy can lift. Callers without full access ({@link isAdministrator}) may write
 * ClientApplication, User and Membership only where a policy permits it, and even then never enlarge their own
 * access or create or change a privileged principal:
 * - AccessPolicy: never written (which also keeps anyone from attaching a policy to themselves);
 * - User: never their own; never an owner/admin, nor give that role; never a User whose Membership a
 *   full-access policy targets; never create a User that targeted Memberships already name; never set the
 *   password, change the email or the linked identities (`identity`) of an existing User;
 * - Membership: never their own or one of their own User; never one of an owner/admin or of a User a full-access
 *   policy reaches, nor one a full-access policy targets; never create one whose id a policy targets; never change its `user`, nor the `link` of
 *   one a policy targets;
 * - ClientApplication: never their own; never one a full-access policy targets; never re-create a deleted id or
 *   create an id a policy targets; never create one that skips consent; on an existing client only the
 *   descriptive fields and `status` change.
 * Re-creating a deleted id (an update or create on it) is judged as a change of the version the deletion removed:
 * policies, memberships, consents and grants name resources by id, so a revived id must not carry them over to
 * someone else. Stored state is read with the server's authority through an {@link AuthRecordReader}; a refusal
 * that follows from it gives one reason for all such cases, naming none of what it read.
 */
import { REFERENCE_TARGET, referenceOf } from '../reference-patterns';
import type { Resource } from '../repository/repository';
import { FULL_ACCESS_ROLES, hasFullAccessRole } from '../../policy/decide';
import type { PolicyPrincipal } from '../../policy/types';
import type { AuthRecordReader } from './auth-record-reader';

/** Resource types the guards apply to. */
export const AUTH_RESOURCE_TYPES: ReadonlySet<string> = new Set(['ClientApplication', 'User', 'Membership', 'AccessPolicy', 'IdentityProvider', 'ProjectSettings']);

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

/** One write of an auth resource, as the guards see it. */
interface GuardedWrite {
  principal: PolicyPrincipal;
  reader: AuthRecordReader;
  id: string;
  /** The new version (undefined for a delete). */
  next?: Resource;
  /** The version replaced; for a write that re-creates a deleted id, the version the deletion removed. */
  before?: Resource;
  /** True when no live version is replaced (a new id, or a deleted one). */
  creates: boolean;
  /** True when the write re-creates a deleted id. */
  revives: boolean;
}

/** ClientApplication elements a non-administrator may change on an existing client. */
const DESCRIPTIVE_CLIENT_ELEMENTS: ReadonlySet<string> = new Set([
  'resourceType', 'id', 'meta', 'text', 'name', 'description', 'logoUri', 'tosUri', 'policyUri', 'status',
]);

const ROLE_REASON = 'only owners and admins may grant, change or remove the owner and admin roles';
/**
 * The reason given when the refusal follows from stored state the caller may not read (the policies that target a
 * principal, another user's role, a deleted version): it names no such fact, so a refusal is no oracle for them.
 */
const GUARDED = 'only owners and admins may make this change: it touches a principal or client that the auth-resource guards protect (docs/access-policies.md "Writing auth resources")';

const hasPrivilegedRole = (user: Resource | undefined): boolean => typeof user?.role === 'string' && FULL_ACCESS_ROLES.has(user.role);
const isFullAccess = (policy: Resource): boolean => policy.engine === 'full-access';

/**
 * The User a Membership names (relative or absolute reference), or undefined.
 * @param membership - the Membership
 * @returns the User id
 */
function userIdOf(membership: Resource | undefined): string | undefined {
  const match = REFERENCE_TARGET.exec(referenceOf(membership?.user) ?? '');
  return match?.[1] === 'User' ? match[2] : undefined;
}

/**
 * JSON equality regardless of key order (`undefined` equals absent).
 * @param a - a value
 * @param b - another value
 * @returns true when equal
 */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return Object.fromEntries(entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
  };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/**
 * Why a write of an auth resource is refused, or undefined when the guards allow it (the policies still decide).
 * @param principal - the caller
 * @param next - the new version (undefined for a delete)
 * @param before - the version replaced (undefined for a create, including one on a deleted id)
 * @param reader - reads the stored state with the server's authority
 * @param asFreeId - judge a create as at an id never used (the caller may not know what the id held)
 * @returns the reason for refusing, or undefined
 */
export async function escalationReason(
  principal: PolicyPrincipal,
  next: Resource | undefined,
  before: Resource | undefined,
  reader: AuthRecordReader,
  asFreeId = false,
): Promise<string | undefined> {
  const type = (next ?? before)?.resourceType;
  if (!type || !AUTH_RESOURCE_TYPES.has(type) || isAdministrator(principal)) return undefined;
  if (type === 'AccessPolicy') return 'only owners and admins may write AccessPolicy resources';
  if (type === 'IdentityProvider') return 'only owners and admins may write IdentityProvider resources';
  if (type === 'ProjectSettings') return 'only owners and admins may write ProjectSettings';
  const id = String((next ?? before)?.id ?? '');
  const removed = before === undefined && !asFreeId ? await reader.lastLive(type, id) : undefined;
  const revives = removed?.deleted === true;
  const write: GuardedWrite = { principal, reader, id, next, before: before ?? (revives ? removed?.resource : undefined), creates: before === undefined, revives };
  switch (type) {
    case 'User':
      return userReason(write);
    case 'Membership':
      return membershipReason(write);
    default:
      return clientReason(write);
  }
}

/**
 * The AccessPolicies that reach a User through its live Memberships.
 * @param reader - the reader
 * @param userId - the User id
 * @returns the policies
 */
async function policiesOfUser(reader: AuthRecordReader, userId: string): Promise<Resource[]> {
  const memberships = await reader.membershipsOf(userId);
  return (await Promise.all(memberships.map((m) => reader.policiesTargeting(`Membership/${String(m.id)}`)))).flat();
}

async function userReason(w: GuardedWrite): Promise<string | undefined> {
  if (hasPrivilegedRole(w.next) || hasPrivilegedRole(w.before)) return ROLE_REASON;
  if (w.id === w.principal.user?.id) return 'a user may not write their own User resource';
  const policies = await policiesOfUser(w.reader, w.id);
  if (policies.some(isFullAccess)) return GUARDED;
  if (w.creates && policies.length > 0) {
    return GUARDED;
  }
  if (w.next && w.before) {
    const which = w.revives ? 'a deleted User they re-create' : 'an existing User';
    if (typeof w.next.password === 'string') return `only owners and admins may set the password of ${which}`;
    if (w.next.email !== w.before.email) return `only owners and admins may change the email of ${which}`;
    // A linked identity is a credential: whoever controls that account at the provider signs in as this User.
    if (JSON.stringify(w.next.identity ?? []) !== JSON.stringify(w.before.identity ?? [])) return `only owners and admins may change the linked identities of ${which}`;
  }
  return undefined;
}

async function membershipReason(w: GuardedWrite): Promise<string | undefined> {
  if (w.principal.reference === `Membership/${w.id}`) return 'a user may not write their own Membership';
  const users = [...new Set([userIdOf(w.next), userIdOf(w.before)].filter((u): u is string => u !== undefined))];
  const ownUser = w.principal.user?.id;
  if (ownUser !== undefined && users.includes(ownUser)) return 'a user may not write a Membership of their own User';
  for (const userId of users) {
    const user = await w.reader.lastLive('User', userId);
    if (user && !user.deleted && hasPrivilegedRole(user.resource)) return GUARDED;
  }
  const policies = await w.reader.policiesTargeting(`Membership/${w.id}`);
  if (policies.some(isFullAccess)) return GUARDED;
  for (const userId of users) {
    if ((await policiesOfUser(w.reader, userId)).some(isFullAccess)) {
      return GUARDED;
    }
  }
  if (w.creates && policies.length > 0) return GUARDED;
  if (w.next && w.before) {
    if (referenceOf(w.next.user) !== referenceOf(w.before.user)) {
      return w.revives ? GUARDED : 'only owners and admins may change the user of a Membership';
    }
    if (policies.length > 0 && !sameJson(w.next.link, w.before.link)) {
      return GUARDED;
    }
  }
  return undefined;
}

async function clientReason(w: GuardedWrite): Promise<string | undefined> {
  if (w.principal.reference === `ClientApplication/${w.id}`) return 'a client may not write its own ClientApplication';
  const policies = await w.reader.policiesTargeting(`ClientApplication/${w.id}`);
  if (policies.some(isFullAccess)) return GUARDED;
  if (w.revives) return GUARDED;
  if (w.creates && policies.length > 0) return GUARDED;
  if (w.creates && w.next?.consentRequired === false) return 'only owners and admins may create a ClientApplication that skips consent (consentRequired false)';
  if (w.next && w.before) {
    const elements = [...new Set([...Object.keys(w.next), ...Object.keys(w.before)])].filter((e) => !DESCRIPTIVE_CLIENT_ELEMENTS.has(e));
    const changed = elements.filter((e) => !sameJson(w.next?.[e], w.before?.[e])).sort();
    if (changed.length > 0) {
      return `only owners and admins may change the credentials or OAuth settings of an existing ClientApplication (${changed.join(', ')})`;
    }
  }
  return undefined;
}
