/**
 * Users and memberships as the sign-in sees them, read straight from the resource store (the stored User
 * carries its password hash, which never leaves this module). An email is unique per project, so a user is
 * found through the unique key `User.email|<lowercased email>`.
 */
import { hashPassword, passwordHashCost, verifyPassword } from '../../security/hashing';
import type { ResourceStore } from '../../storage/ports';

/** A user who may sign in. */
export interface SignInUser {
  id: string;
  email: string;
  /** Display name (HumanName.text or given + family), when there is one. */
  name?: string;
  active: boolean;
}

/** The outcome of checking credentials. */
export type CredentialCheck =
  | { ok: true; user: SignInUser; membershipId?: string }
  | { ok: false; reason: 'invalid' }
  /** The right password for a User that may not act: for the audit log only, never shown. */
  | { ok: false; reason: 'inactive'; userId: string; inactive: 'user' | 'membership' }
  /** The right password for a User with `passwordLogin: false` (federated sign-in only): for the log only. */
  | { ok: false; reason: 'federated_only'; userId: string };

/** Whether a user may act, and if not, what is inactive. */
type Standing = { active: true; user: SignInUser; membershipId?: string } | { active: false; inactive: 'user' | 'membership' };

let dummyHash: { cost: number; hash: Promise<string> } | undefined;

/** A hash (at the current cost) to verify against when the email is unknown, so both cases take the same time. */
function timingDummy(): Promise<string> {
  if (dummyHash?.cost !== passwordHashCost()) dummyHash = { cost: passwordHashCost(), hash: hashPassword('timing-equalization-only') };
  return dummyHash.hash;
}

function toSignInUser(resource: Record<string, unknown>): SignInUser {
  const name = resource.name as { text?: string; given?: string[]; family?: string } | undefined;
  const label = name?.text ?? ([...(name?.given ?? []), name?.family].filter(Boolean).join(' ') || undefined);
  return {
    id: String(resource.id),
    email: String(resource.email ?? ''),
    ...(label ? { name: label } : {}),
    active: resource.active !== false,
  };
}

/**
 * Reads a user by id.
 * @param resources - the resource store
 * @param project - the project key
 * @param id - the User id
 * @returns the user, or undefined when missing or deleted
 */
export async function readUser(resources: ResourceStore, project: string, id: string): Promise<SignInUser | undefined> {
  const doc = await resources.readCurrent(project, 'User', id);
  return doc && !doc.deleted && doc.resource ? toSignInUser(doc.resource) : undefined;
}

/**
 * The user's memberships in the project.
 * @param resources - the resource store
 * @param project - the project key
 * @param userId - the User id
 * @returns each membership's id and whether it is active
 */
export async function findMemberships(resources: ResourceStore, project: string, userId: string): Promise<Array<{ id: string; active: boolean }>> {
  const docs = await resources.search({ project, type: 'Membership', 'index.user': { $elemMatch: { r: `User/${userId}` } } });
  return docs
    .filter((doc) => !doc.deleted && doc.resource)
    .map((doc) => ({ id: doc.id, active: doc.resource?.active !== false }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Whether a user may act: active, and, when memberships exist, at least one active one.
 * @param resources - the resource store
 * @param project - the project key
 * @param userId - the User id
 * @returns the user and the membership to use, or undefined when the user may not act
 */
export async function activeUser(
  resources: ResourceStore,
  project: string,
  userId: string,
): Promise<{ user: SignInUser; membershipId?: string } | undefined> {
  const standing = await standingOf(resources, project, userId);
  return standing.active ? { user: standing.user, ...(standing.membershipId !== undefined ? { membershipId: standing.membershipId } : {}) } : undefined;
}

async function standingOf(resources: ResourceStore, project: string, userId: string): Promise<Standing> {
  const user = await readUser(resources, project, userId);
  if (!user?.active) return { active: false, inactive: 'user' };
  const memberships = await findMemberships(resources, project, userId);
  if (memberships.length === 0) return { active: true, user };
  const membership = memberships.find((m) => m.active);
  return membership ? { active: true, user, membershipId: membership.id } : { active: false, inactive: 'membership' };
}

/**
 * Checks an email and password against the project's users. Every call does the same work whatever the outcome,
 * so its duration tells nothing: one scrypt verification (against a dummy hash when the email is unknown or
 * empty), and for a known email the User and Membership lookups, made before the password's verdict is known.
 * An inactive user, or one whose memberships are all inactive, is refused even with the right password; the
 * caller must answer that exactly like a wrong password (the `inactive` detail is for the audit log). So must it
 * for a User restricted to federated sign-in (`passwordLogin: false`).
 * @param resources - the resource store
 * @param project - the project key
 * @param email - the submitted email
 * @param password - the submitted password
 * @returns the user, or why not
 */
export async function checkCredentials(resources: ResourceStore, project: string, email: string, password: string): Promise<CredentialCheck> {
  const normalized = email.trim().toLowerCase();
  const [doc] = normalized
    ? await resources.search({ project, type: 'User', uniqueKeys: `User.email|${normalized}` }, { limit: 1 })
    : [];
  const hash = doc && !doc.deleted && typeof doc.resource?.password === 'string' ? doc.resource.password : undefined;
  const [matches, standing] = await Promise.all([
    verifyPassword(password, hash ?? (await timingDummy())),
    hash && doc ? standingOf(resources, project, doc.id) : undefined,
  ]);
  if (!hash || !matches || !doc || !standing || password === '') return { ok: false, reason: 'invalid' };
  if (!standing.active) return { ok: false, reason: 'inactive', userId: doc.id, inactive: standing.inactive };
  if (doc.resource?.passwordLogin === false) return { ok: false, reason: 'federated_only', userId: doc.id };
  return { ok: true, user: standing.user, ...(standing.membershipId !== undefined ? { membershipId: standing.membershipId } : {}) };
}
