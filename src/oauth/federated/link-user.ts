/**
 * Which User a federated sign-in is, by the IdentityProvider's `userMatching`:
 * 1. a User already linked to this provider and subject (`User.identity`, unique in the project) — always first;
 * 2. `email` matching: a User whose email equals the provider's `email` claim, only when `email_verified` is true
 *    and, when the provider lists `emailDomains`, the email is in one of them (a provider cannot claim accounts
 *    outside its domains). The User is then linked (provider + subject recorded), unless it is already linked to
 *    another subject of the same provider;
 * 3. `autoProvision`: a new User (role member, `passwordLogin: false`, the verified email) and a Membership, added
 *    to the target of `defaultMembership.accessPolicy`.
 * Anything else is a refusal with a reason for the log. Writes go through the project's FhirRepository (validated,
 * versioned, unique keys, policy cache invalidated) with the server's authority.
 */
import { ConflictError } from '../../fhir/errors';
import { FhirRepository, type Resource } from '../../fhir/repository/repository';
import { userIdentityKey } from '../../fhir/repository/write-only-fields';
import type { ResourceStore } from '../../storage/ports';
import { activeUser, type SignInUser } from '../interaction/users';
import { emailDomain, type FederatedProvider } from './providers';

/** The claims the matching reads (from the id_token, completed by UserInfo). */
export interface FederatedClaims {
  sub: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  givenName?: string;
  familyName?: string;
}

/** Why a federated sign-in found no User to continue as. */
export type NoMatchReason = 'email_unverified' | 'email_missing' | 'email_domain' | 'no_user' | 'identity_conflict' | 'inactive' | 'provision_conflict';

/** The outcome of matching. */
export type MatchResult = { ok: true; user: SignInUser; membershipId?: string; linked: boolean; provisioned: boolean } | { ok: false; reason: NoMatchReason; userId?: string };

type Json = Record<string, unknown>;

async function findUser(resources: ResourceStore, project: string, uniqueKey: string): Promise<Resource | undefined> {
  const [doc] = await resources.search({ project, type: 'User', uniqueKeys: uniqueKey, deleted: false }, { limit: 1 });
  return doc?.resource ? (doc.resource as Resource) : undefined;
}

async function standing(resources: ResourceStore, project: string, userId: string, extra: { linked: boolean; provisioned: boolean }): Promise<MatchResult> {
  const active = await activeUser(resources, project, userId);
  if (!active) return { ok: false, reason: 'inactive', userId };
  return { ok: true, user: active.user, ...(active.membershipId !== undefined ? { membershipId: active.membershipId } : {}), ...extra };
}

function identitiesOf(user: Json): Json[] {
  return Array.isArray(user.identity) ? (user.identity as Json[]) : [];
}

/**
 * Finds, links or creates the User of a federated sign-in.
 * @param resources - the resource store
 * @param project - the project key
 * @param provider - the provider that signed the person in
 * @param claims - the verified claims
 * @returns the user, or why not
 */
export async function matchUser(resources: ResourceStore, project: string, provider: FederatedProvider, claims: FederatedClaims): Promise<MatchResult> {
  const providerRef = `IdentityProvider/${provider.id}`;
  const linked = await findUser(resources, project, userIdentityKey(providerRef, claims.sub));
  if (linked) return standing(resources, project, String(linked.id), { linked: false, provisioned: false });

  const email = claims.email?.trim().toLowerCase();
  const needsEmail = provider.userMatching === 'email' || provider.autoProvision;
  if (needsEmail) {
    if (!email) return { ok: false, reason: 'email_missing' };
    if (!claims.emailVerified) return { ok: false, reason: 'email_unverified' };
    const domain = emailDomain(email);
    if (provider.emailDomains.length > 0 && (!domain || !provider.emailDomains.includes(domain))) return { ok: false, reason: 'email_domain' };
  }
  const repo = new FhirRepository(resources, project);
  const identity = { provider: { reference: providerRef }, subject: claims.sub };

  if (provider.userMatching === 'email' && email) {
    const byEmail = await findUser(resources, project, `User.email|${email}`);
    if (byEmail) {
      const userId = String(byEmail.id);
      if (identitiesOf(byEmail).some((i) => (i.provider as Json | undefined)?.reference === providerRef)) return { ok: false, reason: 'identity_conflict', userId };
      // Only an active user is linked: a deactivated account is not changed by a sign-in attempt.
      const result = await standing(resources, project, userId, { linked: true, provisioned: false });
      if (!result.ok) return result;
      try {
        const current = await repo.read('User', userId);
        const { meta: _meta, ...user } = current.resource;
        await repo.update('User', userId, { ...user, identity: [...identitiesOf(current.resource), identity] } as Resource);
      } catch (err) {
        // A concurrent sign-in linked this subject to another User first (the identity is unique).
        if (err instanceof ConflictError) return { ok: false, reason: 'identity_conflict', userId };
        throw err;
      }
      return result;
    }
  }

  if (!provider.autoProvision || !email) return { ok: false, reason: 'no_user' };
  return provision(repo, resources, project, provider, claims, email, identity);
}

async function provision(
  repo: FhirRepository,
  resources: ResourceStore,
  project: string,
  provider: FederatedProvider,
  claims: FederatedClaims,
  email: string,
  identity: Json,
): Promise<MatchResult> {
  const name: Json = {};
  if (claims.name) name.text = claims.name;
  if (claims.givenName) name.given = [claims.givenName];
  if (claims.familyName) name.family = claims.familyName;
  let userId: string;
  try {
    const created = await repo.create({
      resourceType: 'User',
      email,
      role: 'member',
      emailVerified: true,
      passwordLogin: false,
      identity: [identity],
      ...(Object.keys(name).length > 0 ? { name } : {}),
    });
    userId = String(created.resource.id);
  } catch {
    // The email belongs to another User (sub matching does not link by email) or a concurrent sign-in won.
    return { ok: false, reason: 'provision_conflict' };
  }
  const membership = await repo.create({ resourceType: 'Membership', user: { reference: `User/${userId}` }, active: true });
  if (provider.accessPolicy) {
    const policyId = provider.accessPolicy.slice('AccessPolicy/'.length);
    const policy = await repo.readCurrent('AccessPolicy', policyId);
    if (policy?.resource && !policy.deleted) {
      const current = await repo.read('AccessPolicy', policyId);
      const { meta: _meta, ...body } = current.resource;
      const targets = Array.isArray(body.target) ? (body.target as Json[]) : [];
      await repo.update('AccessPolicy', policyId, { ...body, target: [...targets, { link: { reference: `Membership/${String(membership.resource.id)}` } }] } as Resource);
    }
  }
  return standing(resources, project, userId, { linked: true, provisioned: true });
}
