/**
 * `POST {issuer}/api/v1/oauth/revoke` (RFC 7009):
 * - the client authenticates (public clients with `none` may revoke their own tokens, §2.1);
 * - `token` is required (`invalid_request`); `token_type_hint` is accepted and ignored;
 * - an access or refresh token of this client revokes its grant, so every token issued under the same
 *   authorization stops working on the next request (a client_credentials token's grant is the token itself:
 *   the revocation is stored and kept until the token has expired, tokens/grants.ts);
 * - 200 with an empty body whatever the token was: unknown, expired, already revoked or another client's (§2.2).
 */
import type { Request, RequestHandler, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError, OAuthError } from '../errors';
import type { OAuthProject } from '../project';
import { revokeGrant } from '../tokens/grants';
import { peekRefreshToken } from '../tokens/refresh-tokens';
import { MAX_CLOCK_SKEW } from '../tokens/verify';
import { sendNoStore } from './respond';
import { clientAuthentication, loadProject, noCache, oauthLocals, parseForm } from './steps';

/** The grant and client of a token, if it is one of ours, and until when a revocation must be kept (epoch ms). */
async function tokenOwner(
  deps: OAuthDeps,
  bearer: BearerAuthenticator,
  token: string,
  project: OAuthProject,
): Promise<{ grantId: string; clientId: string; keepUntil?: number } | undefined> {
  if (token.split('.').length === 3) {
    try {
      const claims = await bearer.verifySignature(token, project);
      // A token that is its own grant is refused until it expires: its revocation must last that long.
      return { grantId: claims.grantId, clientId: claims.clientId, keepUntil: (claims.exp + MAX_CLOCK_SKEW) * 1000 };
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
    if (owner && owner.clientId === client.client.id) await revokeGrant(deps, owner.grantId, owner.keepUntil);
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
