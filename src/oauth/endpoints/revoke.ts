/**
 * `POST {issuer}/api/v1/oauth/revoke` (RFC 7009):
 * - the client authenticates (public clients with `none` may revoke their own tokens, §2.1);
 * - `token` is required (`invalid_request`); `token_type_hint` is accepted and ignored;
 * - an access or refresh token of this client revokes its grant, so every token issued under the same
 *   authorization stops working on the next request;
 * - 200 with an empty body whatever the token was: unknown, expired, already revoked or another client's (§2.2).
 */
import type { Request, RequestHandler, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError, OAuthError } from '../errors';
import type { OAuthProject } from '../project';
import { revokeGrant } from '../tokens/grants';
import { peekRefreshToken } from '../tokens/refresh-tokens';
import { sendNoStore } from './respond';
import { clientAuthentication, loadProject, noCache, oauthLocals, parseForm } from './steps';

/** The grant and client of a token, if it is one of ours. */
async function tokenOwner(deps: OAuthDeps, bearer: BearerAuthenticator, token: string, project: OAuthProject): Promise<{ grantId: string; clientId: string } | undefined> {
  if (token.split('.').length === 3) {
    try {
      const claims = await bearer.verifySignature(token, project);
      return { grantId: claims.grantId, clientId: claims.clientId };
    } catch (err) {
      if (err instanceof OAuthError) return undefined;
      throw err;
    }
  }
  const refresh = await peekRefreshToken(deps, token);
  return refresh ? { grantId: refresh.grantId, clientId: refresh.clientId } : undefined;
}

/**
 * Revokes the token's grant when it belongs to the caller.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the step
 */
function revokeToken(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler {
  return async function revokeTokenStep(_req: Request, res: Response): Promise<void> {
    const { params, project, client } = oauthLocals(res);
    if (!params.token) throw new InvalidRequestError('token is required');
    const owner = await tokenOwner(deps, bearer, params.token, project);
    // A client may only revoke its own tokens; others are ignored silently (RFC 7009 §2.2).
    if (owner && owner.clientId === client.client.id) await revokeGrant(deps, owner.grantId);
    sendNoStore(res, 200, {});
  };
}

/**
 * The revocation endpoint.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns its middleware, in order
 */
export function revokeEndpoint(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler[] {
  return [noCache, loadProject(deps), parseForm, clientAuthentication(deps, 'revoke'), revokeToken(deps, bearer)];
}
