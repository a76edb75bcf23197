/**
 * `POST {issuer}/api/v1/oauth/revoke` (RFC 7009): revokes the grant behind an access or refresh token of the
 * authenticated client. Always 200 for a well-formed request, whatever the token was.
 */
import type { NextFunction, Request, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import { authenticateClient } from '../clients/client-auth';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError, OAuthError } from '../errors';
import { resolveProject } from '../project';
import { revokeGrant } from '../tokens/grants';
import { peekRefreshToken } from '../tokens/refresh-tokens';
import { sendNoStore } from './respond';
import { formBody } from './token';

/**
 * The revocation handler.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the handler
 */
export function revokeHandler(deps: OAuthDeps, bearer: BearerAuthenticator) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const project = await resolveProject(deps, req);
      const body = formBody(req);
      const { client } = await authenticateClient(deps, project, req.get('authorization'), body, `${project.oauthBase}/revoke`);
      const token = typeof body.token === 'string' ? body.token : undefined;
      if (!token) throw new InvalidRequestError('token is required');
      let grantId: string | undefined;
      let owner: string | undefined;
      if (token.split('.').length === 3) {
        try {
          const claims = await bearer.verifySignature(token, project);
          grantId = claims.grantId;
          owner = claims.clientId;
        } catch (err) {
          if (!(err instanceof OAuthError)) throw err;
        }
      } else {
        const refresh = await peekRefreshToken(deps, token);
        grantId = refresh?.grantId;
        owner = refresh?.clientId;
      }
      // A client may only revoke its own tokens; others are ignored silently (RFC 7009 §2.2).
      if (grantId && owner === client.id) await revokeGrant(deps, grantId);
      sendNoStore(res, 200, {});
    } catch (err) {
      next(err);
    }
  };
}
