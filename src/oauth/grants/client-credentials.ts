/** `client_credentials` (RFC 6749 §4.4): a confidential client acting on its own behalf. No refresh token. */
import { InvalidScopeError, UnauthorizedClientError } from '../errors';
import { grantScopes, parseScope } from '../scopes';
import { createGrant } from '../tokens/grants';
import { accessTokenLifetime, issueTokens, type TokenResponse } from '../tokens/issue';
import type { GrantContext } from './index';

/** Handles `grant_type=client_credentials`. */
export async function clientCredentialsGrant(ctx: GrantContext): Promise<TokenResponse> {
  const { client } = ctx.auth;
  if (ctx.auth.method === 'none') throw new UnauthorizedClientError('Public clients cannot use client_credentials');
  const requested = typeof ctx.body.scope === 'string' ? parseScope(ctx.body.scope) : parseScope(client.scope);
  const scope = grantScopes(requested, client).filter((s) => s !== 'openid' && s !== 'offline_access' && s !== 'online_access');
  if (requested.length > 0 && scope.length === 0) throw new InvalidScopeError('None of the requested scopes may be granted to this client');
  const grant = await createGrant(ctx.deps, { project: ctx.project.key, clientId: client.id, scope }, accessTokenLifetime(client));
  return issueTokens(ctx.deps, ctx.keys, { project: ctx.project, client, grant, scope, allowRefresh: false });
}
