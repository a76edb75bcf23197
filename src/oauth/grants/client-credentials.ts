/**
 * `client_credentials` (RFC 6749 §4.4): a confidential client acting on its own behalf.
 * - public clients (auth method `none`) may not use it;
 * - scope defaults to everything the client is registered for; requested scopes outside it are dropped, and a
 *   request none of whose scopes may be granted is `invalid_scope`;
 * - only `system/` resource scopes are granted: no id_token, no refresh token, no user or patient scopes;
 * - the token lives the client's `accessTokenLifetime`, by default 300 s (SMART Backend Services: "no longer than
 *   five minutes");
 * - the grant is not stored: the signed token is its record, and revocation stores a denial kept until it expires
 *   (tokens/grants.ts).
 */
import { InvalidScopeError, UnauthorizedClientError } from '../errors';
import { grantScopes, parseScope } from '../scopes';
import { selfContainedGrant } from '../tokens/grants';
import { accessTokenLifetime, issueTokens, type TokenResponse } from '../tokens/issue';
import { projectSettings } from '../settings';
import type { GrantContext } from './index';

/** The `grant_type` value. */
export const grantType = 'client_credentials';
/** Required parameters besides client authentication. */
export const parameters: readonly string[] = [];

/**
 * Issues an access token to the client itself.
 * @param ctx - the token request
 * @returns the token response
 */
export async function handle(ctx: GrantContext): Promise<TokenResponse> {
  const { client } = ctx.auth;
  if (ctx.auth.method === 'none') throw new UnauthorizedClientError('Public clients cannot use client_credentials');
  const asked = ctx.body.scope?.trim() ? ctx.body.scope : undefined;
  const scope = grantScopes(parseScope(asked ?? client.scope), client, 'client_credentials');
  if (asked !== undefined && scope.length === 0) throw new InvalidScopeError('None of the requested scopes may be granted to this client');
  const lifetime = accessTokenLifetime(client, 'backend', await projectSettings(ctx.deps.storage.resources, ctx.deps.config, ctx.project.key));
  const grant = selfContainedGrant({ project: ctx.project.key, clientId: client.id, scope }, lifetime);
  return issueTokens(ctx.deps, ctx.keys, { project: ctx.project, client, grant, scope, lifetime, allowRefresh: false, dpopJkt: ctx.dpopJkt });
}
