/**
 * `POST {issuer}/api/v1/oauth/introspect` (RFC 7662): for confidential clients. Active access and refresh tokens
 * of the project → `active: true` with their claims; anything else → exactly `{ "active": false }`.
 */
import type { NextFunction, Request, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import { authenticateClient } from '../clients/client-auth';
import type { OAuthDeps } from '../deps';
import { InvalidClientError, InvalidRequestError, OAuthError } from '../errors';
import { resolveProject } from '../project';
import { isGrantActive, readGrant } from '../tokens/grants';
import { peekRefreshToken } from '../tokens/refresh-tokens';
import { sendNoStore } from './respond';
import { formBody } from './token';

/**
 * The introspection handler.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the handler
 */
export function introspectHandler(deps: OAuthDeps, bearer: BearerAuthenticator) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const project = await resolveProject(deps, req);
      const body = formBody(req);
      const auth = await authenticateClient(deps, project, req.get('authorization'), body, `${project.oauthBase}/introspect`);
      if (auth.method === 'none') throw new InvalidClientError('Introspection is for confidential clients');
      const token = typeof body.token === 'string' ? body.token : undefined;
      if (!token) throw new InvalidRequestError('token is required');
      const inactive = { active: false };
      if (token.split('.').length === 3) {
        try {
          const claims = await bearer.verifySignature(token, project);
          await bearer.checkActive(claims);
          sendNoStore(res, 200, {
            active: true,
            scope: claims.scopes.join(' '),
            client_id: claims.clientId,
            sub: claims.userId ? `User/${claims.userId}` : claims.clientId,
            exp: claims.exp,
            iat: claims.iat,
            iss: project.issuer,
            aud: project.fhirBase,
            token_type: 'Bearer',
            ...(claims.fhirUser ? { fhirUser: claims.fhirUser } : {}),
          });
          return;
        } catch (err) {
          if (!(err instanceof OAuthError)) throw err;
          sendNoStore(res, 200, inactive);
          return;
        }
      }
      const refresh = await peekRefreshToken(deps, token);
      const grant = refresh ? await readGrant(deps, refresh.grantId) : undefined;
      if (!refresh || !isGrantActive(grant) || grant.project !== project.key) {
        sendNoStore(res, 200, inactive);
        return;
      }
      sendNoStore(res, 200, {
        active: true,
        scope: refresh.scope.join(' '),
        client_id: refresh.clientId,
        sub: grant.userId ? `User/${grant.userId}` : refresh.clientId,
        ...(refresh.expiresAt ? { exp: Math.floor(Date.parse(refresh.expiresAt) / 1000) } : {}),
        iss: project.issuer,
        token_type: 'refresh_token',
      });
    } catch (err) {
      next(err);
    }
  };
}
