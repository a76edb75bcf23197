/**
 * Scope handling: parsing the space-separated `scope` parameter and deciding what is granted.
 * Granted = requested ∩ the client's registered scopes (a resource scope also when a registered one covers it)
 * ∩ what the user consents to (the consent page shows that set; the user may untick its resource scopes); unknown scopes are dropped,
 * `system/` scopes go only to client_credentials, and token responses list what was granted.
 */

import { isKnownScope, parseResourceScope, type ResourceScope } from '../smart/scopes';

/** Scope tokens are printable ASCII without space, `"` or `\` (RFC 6749 §3.3). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Splits a `scope` value into distinct tokens, in order.
 * @param scope - the space-separated value (may be empty)
 * @returns the tokens; malformed ones are dropped
 */
export function parseScope(scope: string | undefined): string[] {
  if (!scope) return [];
  return [...new Set(scope.split(' ').filter((s) => s !== '' && SCOPE_TOKEN.test(s)))];
}

/** The flow a scope is granted in: `system/` scopes only for a client acting for itself, never for a user. */
export type GrantFlow = 'authorization_code' | 'client_credentials';

/**
 * Whether `held` covers `wanted`: same context, the same type or `*`, every permission, and no restriction or
 * the same one (`patient/*.rs` covers `patient/Observation.read`; `patient/Observation.rs?category=x` covers
 * only itself and its narrower permission sets).
 * @param held - a scope held (registered, or already granted)
 * @param wanted - a scope asked for
 * @returns true when granting `wanted` gives nothing `held` does not
 */
export function covers(held: ResourceScope, wanted: ResourceScope): boolean {
  if (held.context !== wanted.context) return false;
  if (held.resourceType !== '*' && held.resourceType !== wanted.resourceType) return false;
  if (![...wanted.permissions].every((p) => held.permissions.has(p))) return false;
  if (held.restriction === undefined) return true;
  return wanted.restriction !== undefined && JSON.stringify(held.restriction) === JSON.stringify(wanted.restriction);
}

/**
 * Whether a scope token is within a set of held scopes: listed as such, or a resource scope covered by one.
 * @param token - the scope asked for
 * @param held - the scopes held
 * @returns true when it may be granted
 */
export function isCoveredBy(token: string, held: readonly string[]): boolean {
  if (held.includes(token)) return true;
  const wanted = parseResourceScope(token);
  if (!wanted) return false;
  return held.some((h) => {
    const scope = parseResourceScope(h);
    return scope !== undefined && covers(scope, wanted);
  });
}

/**
 * The scopes a client may be granted of those requested: scopes the server knows (unknown and malformed ones are
 * dropped), allowed in the flow (`system/` only with client_credentials, which gets nothing else), and within
 * the client's registered scopes (exactly, or a resource scope covered by a registered one).
 * @param requested - requested scope tokens
 * @param client - the ClientApplication (its `scope` lists what it may ever get)
 * @param flow - the grant type
 * @returns the granted tokens, in request order
 */
export function grantScopes(requested: string[], client: { scope?: unknown }, flow: GrantFlow = 'authorization_code'): string[] {
  const registered = parseScope(typeof client.scope === 'string' ? client.scope : '');
  const inFlow = (token: string): boolean => (flow === 'client_credentials') === token.startsWith('system/');
  return [...new Set(requested.filter((s) => isKnownScope(s) && inFlow(s) && isCoveredBy(s, registered)))];
}

/**
 * Scopes held to what a client's registration allows now (`ClientApplication.scope` is the most the app may ever
 * be granted): a refresh after an administrator narrowed the registration issues no more than it lists. Keeps each
 * scope the registration covers, and adds each registered scope the given ones cover (`user/*.*` narrowed to a
 * registration of `user/Patient.read` yields `user/Patient.read`).
 * @param scopes - the scopes of a grant
 * @param client - the ClientApplication as registered now
 * @returns the scopes within the registration
 */
export function withinRegistration(scopes: readonly string[], client: { scope?: unknown }): string[] {
  const registered = parseScope(typeof client.scope === 'string' ? client.scope : '');
  const kept = scopes.filter((s) => isCoveredBy(s, registered));
  const narrowed = registered.filter((r) => !kept.includes(r) && isCoveredBy(r, [...scopes]));
  return [...new Set([...kept, ...narrowed])];
}

/**
 * Whether a client's scopes give it every interaction on every resource type: `system/*.*` (SMART v1),
 * `system/*.cruds` (v2), or both `system/*.read` and `system/*.write`. Narrower scopes are judged by the SMART
 * scope rules, not here.
 * @param scopes - the token's scopes
 * @returns true for full system access
 */
export function grantsFullSystemAccess(scopes: readonly string[]): boolean {
  const has = (s: string): boolean => scopes.includes(s);
  return has('system/*.*') || has('system/*.cruds') || (has('system/*.read') && has('system/*.write'));
}
