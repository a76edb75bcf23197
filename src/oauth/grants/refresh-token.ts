/**
 * `refresh_token` (RFC 6749 §6, RFC 9700 §4.14.2):
 * - the token is consumed atomically and replaced by a new one (rotation); the old one is remembered as used,
 *   and presenting it again → `invalid_grant` and the whole grant (every token of the family) is revoked;
 * - it must belong to this client in this project, checked before the token is used: another client's token
 *   (live or used) → `invalid_grant`, and the token is neither consumed nor its grant revoked;
 * - its grant, user and membership must still be active;
 * - `scope` may narrow the access token's scopes, never widen them (`invalid_scope`); the new refresh token keeps
 *   the scopes of the one it replaces (§6), so a later refresh may ask for them again;
 * - the family lives at most the client's refreshTokenLifetime from the authorization (its grant's expiry).
 */
import { InvalidGrantError, InvalidScopeError } from '../errors';
import { isCoveredBy, parseScope } from '../scopes';
import { isGrantActive, readGrant, revokeGrant } from '../tokens/grants';
import { accessTokenLifetime, issueTokens, type TokenResponse } from '../tokens/issue';
import { refreshTokenOwner, useRefreshToken } from '../tokens/refresh-tokens';
import type { GrantContext } from './index';
import { userContext } from './user-context';

/** The `grant_type` value. */
export const grantType = 'refresh_token';
/** Required parameters besides client authentication. */
export const parameters: readonly string[] = ['refresh_token'];

/**
 * Exchanges a refresh token for new tokens.
 * @param ctx - the token request
 * @returns the token response
 */
export async function handle(ctx: GrantContext): Promise<TokenResponse> {
  const { body, deps, project } = ctx;
  const client = ctx.auth.client;
  const owner = await refreshTokenOwner(deps, body.refresh_token as string);
  if (owner && (owner.project !== project.key || owner.clientId !== client.id)) throw new InvalidGrantError('The refresh token was issued to another client');
  const use = await useRefreshToken(deps, body.refresh_token as string);
  if (use.status === 'reused') {
    await revokeGrant(deps, use.grantId);
    throw new InvalidGrantError('The refresh token was already used; its grant is revoked');
  }
  if (use.status === 'unknown') throw new InvalidGrantError('The refresh token is invalid or expired');
  if (use.data.clientId !== client.id) throw new InvalidGrantError('The refresh token was issued to another client');
  const grant = await readGrant(deps, use.data.grantId);
  if (!isGrantActive(grant) || grant.project !== project.key) throw new InvalidGrantError('The grant was revoked');
  let scope = use.data.scope;
  if (body.scope !== undefined) {
    const requested = parseScope(body.scope);
    const widened = requested.filter((s) => !isCoveredBy(s, use.data.scope));
    if (widened.length > 0) throw new InvalidScopeError(`Scopes not in the original grant: ${widened.join(' ').slice(0, 200)}`);
    if (requested.length > 0) scope = requested;
  }
  let fhirUser: string | undefined;
  if (grant.userId) {
    const user = await userContext(deps, project.key, grant.userId, grant.membershipId);
    if (!user.active) throw new InvalidGrantError('The user or membership is no longer active');
    fhirUser = user.fhirUser;
  }
  const lifetime = accessTokenLifetime(client, grant.userId ? 'user' : 'backend');
  return issueTokens(deps, ctx.keys, { project, client, grant, scope, lifetime, refreshScope: use.data.scope, fhirUser, allowRefresh: true, refreshing: true });
}
