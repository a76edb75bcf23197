/**
 * `refresh_token` (RFC 6749 §6): rotated on every use; a used token presented again revokes its grant. The
 * requested scope may narrow the grant's, never widen it.
 */
import { InvalidGrantError, InvalidRequestError, InvalidScopeError } from '../errors';
import { parseScope } from '../scopes';
import { isGrantActive, readGrant, revokeGrant } from '../tokens/grants';
import { issueTokens, type TokenResponse } from '../tokens/issue';
import { useRefreshToken } from '../tokens/refresh-tokens';
import type { GrantContext } from './index';
import { userContext } from './user-context';

/** Handles `grant_type=refresh_token`. */
export async function refreshTokenGrant(ctx: GrantContext): Promise<TokenResponse> {
  const { body, deps } = ctx;
  const token = typeof body.refresh_token === 'string' ? body.refresh_token : undefined;
  if (!token) throw new InvalidRequestError('refresh_token is required');
  const use = await useRefreshToken(deps, token);
  if (use.status === 'reused') {
    await revokeGrant(deps, use.grantId);
    throw new InvalidGrantError('The refresh token was already used; its grant is revoked');
  }
  if (use.status === 'unknown') throw new InvalidGrantError('The refresh token is invalid or expired');
  const client = ctx.auth.client;
  if (use.data.clientId !== client.id) throw new InvalidGrantError('The refresh token was issued to another client');
  const grant = await readGrant(deps, use.data.grantId);
  if (!isGrantActive(grant)) throw new InvalidGrantError('The grant was revoked');
  let scope = use.data.scope;
  if (typeof body.scope === 'string') {
    const requested = parseScope(body.scope);
    const widened = requested.filter((s) => !use.data.scope.includes(s));
    if (widened.length > 0) throw new InvalidScopeError(`Scopes not in the original grant: ${widened.join(' ')}`);
    scope = requested;
  }
  let fhirUser: string | undefined;
  if (grant.userId) {
    const user = await userContext(deps, ctx.project.key, grant.userId, grant.membershipId);
    if (!user.active) throw new InvalidGrantError('The user or membership is no longer active');
    fhirUser = user.fhirUser;
  }
  return issueTokens(deps, ctx.keys, { project: ctx.project, client, grant, scope, fhirUser, allowRefresh: true });
}
