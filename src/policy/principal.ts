/**
 * Builds the {@link PolicyPrincipal} of a caller from what its token says (or what `$evaluate-policy` names):
 * the User (never its password), Membership, the Membership's linked resource (`%fhirUser`), the
 * ClientApplication (never its secret), the scopes, the role, and the policies targeting the principal
 * (DESIGN §5.3: the Membership for users, the ClientApplication for clients).
 * Everything but `%fhirUser` comes from the {@link PolicyCache}; `%fhirUser` (a Patient, Practitioner, ...) is one
 * keyed read per request because writes of those types do not invalidate the cache.
 */
import { referenceOf, RELATIVE_REFERENCE } from '../fhir/reference-patterns';
import { type ClientApplication, isClientActive } from '../oauth/clients/client-store';
import type { ResourceStore } from '../storage/ports';
import { type PolicyCache, policyView } from './cache';
import type { PolicyPrincipal, PolicyResource } from './types';

/** Who the caller is, in the terms of an access token (a subset of the bearer AuthContext). */
export interface PrincipalClaims {
  /** The project key. */
  project: string;
  /** The OAuth client; absent when `$evaluate-policy` names only a Membership. */
  clientId?: string;
  userId?: string;
  membershipId?: string;
  scopes: string[];
}


async function readFhirUser(store: ResourceStore, project: string, membership: PolicyResource | undefined): Promise<PolicyResource | undefined> {
  const match = RELATIVE_REFERENCE.exec(referenceOf(membership?.link) ?? '');
  if (!match) return undefined;
  const doc = await store.readCurrent(project, match[1] as string, match[2] as string);
  return doc && !doc.deleted && doc.resource ? policyView(doc.resource) : undefined;
}

/**
 * Loads a principal.
 * @param cache - the policy cache of the application's store
 * @param store - the same store (for `%fhirUser`)
 * @param claims - project, client, user, membership, scopes
 * @returns the principal; `active` is false when a named User, Membership or ClientApplication is missing,
 *   deleted or inactive, or when the Membership belongs to another User
 */
export async function loadPrincipal(cache: PolicyCache, store: ResourceStore, claims: PrincipalClaims): Promise<PolicyPrincipal> {
  const { project } = claims;
  // Everything but `%fhirUser` and the scopes comes from the cache, so it is computed once per cache generation.
  const key = `principal\0${claims.clientId ?? ''}\0${claims.userId ?? ''}\0${claims.membershipId ?? ''}`;
  const base = await cache.derived(project, key, () => loadFromCache(cache, claims));
  if (base.membership?.link === undefined) return withScopes(base, claims.scopes);
  const fhirUser = await readFhirUser(store, project, base.membership);
  return { ...base, fhirUser, scopes: claims.scopes };
}

/** Principals without a `%fhirUser`, per cached base and scope list (a verified token's list is the same array each time). */
const byScopes = new WeakMap<Omit<PolicyPrincipal, 'fhirUser' | 'scopes'>, WeakMap<string[], PolicyPrincipal>>();

function withScopes(base: Omit<PolicyPrincipal, 'fhirUser' | 'scopes'>, scopes: string[]): PolicyPrincipal {
  let known = byScopes.get(base);
  if (!known) {
    known = new WeakMap();
    byScopes.set(base, known);
  }
  let principal = known.get(scopes);
  if (!principal) {
    principal = { ...base, fhirUser: undefined, scopes };
    known.set(scopes, principal);
  }
  return principal;
}

async function loadFromCache(cache: PolicyCache, claims: PrincipalClaims): Promise<Omit<PolicyPrincipal, 'fhirUser' | 'scopes'>> {
  const { project } = claims;
  const [membership, client] = await Promise.all([
    claims.membershipId ? cache.record(project, 'Membership', claims.membershipId) : undefined,
    claims.clientId ? cache.record(project, 'ClientApplication', claims.clientId) : undefined,
  ]);
  const membershipUser = RELATIVE_REFERENCE.exec(referenceOf(membership?.user) ?? '')?.[2];
  const userId = claims.userId ?? membershipUser;
  const kind = claims.membershipId || userId ? 'user' : 'client';
  const reference = claims.membershipId ? `Membership/${claims.membershipId}` : kind === 'user' ? `User/${userId ?? ''}` : `ClientApplication/${claims.clientId ?? ''}`;
  const [user, policies] = await Promise.all([
    userId ? cache.record(project, 'User', userId) : undefined,
    reference.startsWith('User/') ? [] : cache.policiesFor(project, reference),
  ]);
  const active =
    (kind === 'client' ? client !== undefined : user !== undefined && user.active !== false) &&
    (claims.clientId === undefined || (client !== undefined && isClientActive(client as ClientApplication))) &&
    (claims.membershipId === undefined || (membership !== undefined && membership.active !== false && membershipUser === userId));
  return {
    project,
    kind,
    reference,
    active,
    user,
    membership,
    client,
    role: typeof user?.role === 'string' ? user.role : undefined,
    policies,
  };
}
