/**
 * `refresh_token` (RFC 6749 §6, RFC 9700 §4.14.2). The request is checked in full before the token is used, so a
 * refused request changes nothing and the same token still works for its client afterwards:
 * - it must belong to this client in this project: another client's token (live or used) → `invalid_grant`, and
 *   the token is neither consumed nor its grant revoked (docs/oauth.md says why);
 * - a used token presented by its own client → `invalid_grant` and the whole grant (every token of the family) is
 *   revoked;
 * - its grant, user and membership must still be active (`invalid_grant`);
 * - `scope` may narrow the access token's scopes, never widen them (`invalid_scope`); the new refresh token keeps
 *   the scopes of the one it replaces (§6), so a later refresh may ask for them again;
 * - the access token's scopes are held to the client's registration as it is now (`ClientApplication.scope`);
 * - a refresh token bound to a DPoP key (a public client's, RFC 9449 §5) needs a proof of that key
 *   (`invalid_dpop_proof`; nothing consumed); the new access token is bound to the proof's key whenever the
 *   request carries one, a confidential client's refresh token never is;
 * then the token is consumed atomically and replaced by a new one (rotation): of two concurrent uses one wins and
 * the other counts as reuse. The family lives at most the client's refreshTokenLifetime from the authorization.
 */
import { InvalidDpopProofError, InvalidGrantError, InvalidScopeError } from '../errors';
import { isCoveredBy, parseScope, withinRegistration } from '../scopes';
import { isGrantActive, readGrant, revokeGrant } from '../tokens/grants';
import { accessTokenLifetime, issueTokens, type TokenResponse } from '../tokens/issue';
import { projectSettings } from '../settings';
import { inspectRefreshToken, useRefreshToken } from '../tokens/refresh-tokens';
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
  const token = body.refresh_token as string;
  const presented = await inspectRefreshToken(deps, token);
  if (presented.status === 'unknown') throw new InvalidGrantError('The refresh token is invalid or expired');
  const { grant } = presented;
  const ownedHere = grant.project === project.key && grant.clientId === client.id;
  if (!ownedHere || (presented.status === 'live' && presented.data.clientId !== client.id)) {
    throw new InvalidGrantError('The refresh token was issued to another client');
  }
  if (presented.status === 'used') return reused(ctx, grant.grantId);
  const boundTo = presented.data.jkt;
  if (boundTo !== undefined && ctx.dpopJkt !== boundTo) {
    throw new InvalidDpopProofError(
      ctx.dpopJkt === undefined ? 'The refresh token is bound to a DPoP key: send a DPoP proof of that key' : 'The DPoP proof is signed by another key than the one the refresh token is bound to',
    );
  }
  if (!isGrantActive(grant)) throw new InvalidGrantError('The grant was revoked');
  const granted = presented.data.scope;
  // Never beyond what the registration allows now (an administrator may have narrowed it since the grant).
  const scope = withinRegistration(requestedScope(body.scope, granted), client);
  let fhirUser: string | undefined;
  if (grant.userId) {
    const user = await userContext(deps, project.key, grant.userId, grant.membershipId);
    if (!user.active) throw new InvalidGrantError('The user or membership is no longer active');
    fhirUser = user.fhirUser;
  }
  // Every check passed: only now is the token used.
  const use = await useRefreshToken(deps, token);
  if (use.status === 'reused') return reused(ctx, use.grantId);
  if (use.status === 'unknown') throw new InvalidGrantError('The refresh token is invalid or expired');
  const lifetime = accessTokenLifetime(client, grant.userId ? 'user' : 'backend', await projectSettings(deps.storage.resources, deps.config, project.key));
  return issueTokens(deps, ctx.keys, { project, client, grant, scope, lifetime, refreshScope: granted, fhirUser, allowRefresh: true, refreshing: true, dpopJkt: ctx.dpopJkt });
}

/**
 * The scopes of the new access token: the requested ones when given, which must all be covered by the granted ones.
 * @param requested - the `scope` parameter, if any
 * @param granted - the refresh token's scopes
 * @returns the scopes to issue
 * @throws InvalidScopeError when a requested scope was not granted
 */
function requestedScope(requested: string | undefined, granted: string[]): string[] {
  if (requested === undefined) return granted;
  const asked = parseScope(requested);
  const widened = asked.filter((s) => !isCoveredBy(s, granted));
  if (widened.length > 0) throw new InvalidScopeError(`Scopes not in the original grant: ${widened.join(' ').slice(0, 200)}`);
  return asked.length > 0 ? asked : granted;
}

/**
 * A used refresh token presented again by its own client: the family is revoked.
 * @param ctx - the token request
 * @param grantId - the token's grant
 */
async function reused(ctx: GrantContext, grantId: string): Promise<never> {
  await revokeGrant(ctx.deps, grantId);
  ctx.deps.audit.record({
    kind: 'security',
    name: 'refresh-token-reuse',
    at: Date.now(),
    caller: { project: ctx.project.key, clientId: String(ctx.auth.client.id) },
    grantType: 'refresh_token',
    error: 'invalid_grant',
    outcome: { status: 400, decision: 'refused', detail: 'a used refresh token was presented again; every token of its grant is revoked' },
    entities: [{ name: 'grant', value: grantId }],
  });
  throw new InvalidGrantError('The refresh token was already used; its grant is revoked');
}
