/**
 * Scope handling: parsing the space-separated `scope` parameter and deciding what is granted.
 * Granted = requested ∩ the client's registered scopes (exact match); unknown scopes are dropped, and token
 * responses list what was granted.
 */

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

/**
 * The scopes a client may be granted of those requested.
 * @param requested - requested scope tokens
 * @param client - the ClientApplication (its `scope` lists what it may ever get)
 * @returns the granted tokens, in request order
 */
export function grantScopes(requested: string[], client: { scope?: unknown }): string[] {
  const allowed = new Set(parseScope(typeof client.scope === 'string' ? client.scope : ''));
  return [...new Set(requested.filter((s) => allowed.has(s)))];
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
