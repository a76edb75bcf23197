/**
 * The invariants of the escalation property test, computed from a scan of a world's live auth resources (read
 * with the server's authority):
 * - {@link privilegedState}: owner/admin Users, full-access policies, the principals they target and the Users
 *   those Memberships name, and every Membership of those Users, each with its version; plus every AccessPolicy;
 * - {@link effectiveAccess}: what the writer can act as — itself, Users whose credentials it set or that it
 *   created, clients it created or whose credentials it set ({@link updateControlled}) — and the policies, roles,
 *   consent bypasses and other users' consents those principals carry;
 * - {@link targetIdentities}: the principals AccessPolicies target keep their user and link (Memberships) or
 *   credentials and OAuth settings (clients), or stop being live.
 */
import { REFERENCE_TARGET, referenceOf } from '../../../src/fhir/reference-patterns';
import { verifySecret } from '../../../src/security/hashing';
import type { ResourceDocument } from '../../../src/storage/ports';
import { FIXTURE_SECRETS } from './escalation-fixtures';

type Json = Record<string, unknown>;

const PRIVILEGED_ROLES = new Set(['owner', 'admin']);

/**
 * A client's secret for comparisons: `fixture secret` when it is still the one the admin gave it (an admin
 * revival hashes it again), else the stored hash.
 */
const secretOf = (key: string, doc: ResourceDocument): unknown => {
  const hash = res(doc).secret;
  const fixture = FIXTURE_SECRETS.get(key);
  return fixture !== undefined && typeof hash === 'string' && verifySecret(fixture, hash) ? 'fixture secret' : hash;
};

/** What makes a client who it is: how it authenticates, where its codes go, what it may get, whether users are asked. */
const CLIENT_IDENTITY = ['secret', 'jwks', 'jwksUri', 'redirectUri', 'tokenEndpointAuthMethod', 'grantType', 'consentRequired', 'launchUri', 'scope'];
const res = (doc: ResourceDocument | undefined): Json => (doc?.resource ?? {}) as Json;

/**
 * The User a Membership names, as `User/<id>`.
 * @param doc - the Membership's document
 * @returns the reference, or undefined
 */
export const userOf = (doc: ResourceDocument | undefined): string | undefined => {
  const match = REFERENCE_TARGET.exec(referenceOf(res(doc).user) ?? '');
  return match?.[1] === 'User' ? `User/${match[2] as string}` : undefined;
};

const targetsOf = (doc: ResourceDocument): string[] =>
  ((res(doc).target as Array<{ link?: unknown }> | undefined) ?? []).map((t) => referenceOf(t.link)).filter((r): r is string => r !== undefined);
const versioned = (docs: Map<string, ResourceDocument>, key: string): string => `${key}@${docs.get(key)?.versionId ?? 'absent'}`;

/**
 * The privileged principals and every AccessPolicy, with versions (see the module comment).
 * @param docs - a scan
 * @returns sorted entries
 */
export function privilegedState(docs: Map<string, ResourceDocument>): string[] {
  const out = new Set<string>();
  const fullAccessTargets = new Set(
    [...docs].filter(([key, doc]) => key.startsWith('AccessPolicy/') && res(doc).engine === 'full-access').flatMap(([, doc]) => targetsOf(doc)),
  );
  // Owners and admins, and Users a full-access policy reaches through one of their Memberships.
  const privilegedUsers = [...docs.keys()].filter((k) => k.startsWith('User/') && PRIVILEGED_ROLES.has(String(res(docs.get(k)).role)));
  for (const target of fullAccessTargets) {
    const targetUser = userOf(docs.get(target));
    if (targetUser) privilegedUsers.push(targetUser);
  }
  for (const key of privilegedUsers) out.add(versioned(docs, key));
  for (const [key, doc] of docs) {
    const owner = key.startsWith('Membership/') ? userOf(doc) : undefined;
    if (owner && privilegedUsers.includes(owner)) out.add(versioned(docs, key));
    if (!key.startsWith('AccessPolicy/')) continue;
    out.add(versioned(docs, key));
    if (res(doc).engine !== 'full-access') continue;
    for (const target of targetsOf(doc)) {
      out.add(`full-access:${versioned(docs, target)}`);
      const targetUser = userOf(docs.get(target));
      if (targetUser) out.add(`full-access:${versioned(docs, targetUser)}`);
    }
  }
  return [...out].sort();
}

/**
 * Principals the writer controls: itself, every User it created or whose password hash or email changed, every
 * client it created or whose credentials or OAuth settings changed (`start` is the scan the world began with;
 * besides the writer only {@link World.restore} writes, and it puts back what was there). Sets grow
 * monotonically in `controlled`.
 * @param start - the first scan
 * @param docs - the current scan
 * @param controlled - principals found so far (updated)
 */
export function updateControlled(start: Map<string, ResourceDocument>, docs: Map<string, ResourceDocument>, controlled: Set<string>): void {
  controlled.add('User/writer');
  const credentials: Record<string, string[]> = {
    User: ['password', 'email'],
    ClientApplication: CLIENT_IDENTITY,
  };
  for (const [key, doc] of docs) {
    const fields = credentials[doc.type];
    if (!fields) continue;
    const was = start.get(key);
    // A fixture client the admin revived has a new hash of the same secret: compare the secret itself.
    const value = (d: ResourceDocument | undefined, f: string): string => JSON.stringify(d && f === 'secret' ? secretOf(key, d) : res(d)[f]);
    const changed = (f: string): boolean => value(was, f) !== value(doc, f);
    if (!was || fields.some(changed)) controlled.add(key);
  }
}

/**
 * What the controlled principals can do: policies targeting their Memberships or themselves (with versions),
 * privileged roles, clients that skip consent, and clients other users consented to.
 * @param docs - a scan
 * @param controlled - the controlled principals
 * @param consented - clients other users consented to
 * @returns sorted entries
 */
export function effectiveAccess(docs: Map<string, ResourceDocument>, controlled: Set<string>, consented: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  const principals = new Set<string>();
  for (const key of controlled) {
    const doc = docs.get(key);
    if (!doc) continue;
    if (key.startsWith('ClientApplication/')) {
      principals.add(key);
      if (res(doc).consentRequired === false) out.add(`skips-consent:${key}`);
      if (consented.has(key)) out.add(`consented-to:${key}`);
    } else if (PRIVILEGED_ROLES.has(String(res(doc).role))) {
      out.add(`role:${key}`);
    }
  }
  for (const [key, doc] of docs) {
    const owner = key.startsWith('Membership/') ? userOf(doc) : undefined;
    if (owner && controlled.has(owner)) principals.add(key);
  }
  for (const [key, doc] of docs) {
    if (!key.startsWith('AccessPolicy/')) continue;
    for (const target of targetsOf(doc)) if (principals.has(target)) out.add(`${versioned(docs, key)} via ${target}`);
  }
  return [...out].sort();
}

/**
 * Who each principal an AccessPolicy targets is: a Membership's user and link, a client's credentials and OAuth
 * settings, or `none` when it is not live. Policies apply to ids, so these must not change under them.
 * @param docs - a scan
 * @returns identity by target reference
 */
export function targetIdentities(docs: Map<string, ResourceDocument>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, doc] of docs) {
    if (!key.startsWith('AccessPolicy/')) continue;
    for (const target of targetsOf(doc)) {
      const subject = docs.get(target);
      const fields = target.startsWith('Membership/') ? ['user', 'link'] : CLIENT_IDENTITY;
      out.set(target, subject ? JSON.stringify(fields.map((f) => (f === 'secret' ? secretOf(target, subject) : res(subject)[f]) ?? null)) : 'none');
    }
  }
  return out;
}
