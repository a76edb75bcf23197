/** `GET|POST {issuer}/api/v1/oauth/userinfo` (OIDC Core §5.3): claims about the user of a bearer token with `openid`. */
import type { NextFunction, Request, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import type { OAuthDeps } from '../deps';
import { OAuthError } from '../errors';
import { resolveProject } from '../project';
import { sendNoStore } from './respond';

/**
 * The userinfo handler.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the handler
 */
export function userinfoHandler(deps: OAuthDeps, bearer: BearerAuthenticator) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const project = await resolveProject(deps, req);
      const auth = await bearer.authenticate(req.get('authorization'), project);
      if (!auth.userId || !auth.scopes.includes('openid')) {
        const error = new OAuthError('insufficient_scope', 403, 'The token was not issued to a user with the openid scope');
        error.headers['WWW-Authenticate'] = 'Bearer error="insufficient_scope", scope="openid"';
        throw error;
      }
      const user = await deps.storage.resources.readCurrent(project.key, 'User', auth.userId);
      const claims: Record<string, unknown> = { sub: `User/${auth.userId}` };
      if (auth.fhirUser && auth.scopes.includes('fhirUser')) claims.fhirUser = auth.fhirUser;
      if (auth.scopes.includes('email') || auth.scopes.includes('profile')) {
        if (typeof user?.resource?.email === 'string') claims.email = user.resource.email;
      }
      if (auth.scopes.includes('profile')) {
        const name = (user?.resource?.name as { text?: string; given?: string[]; family?: string } | undefined) ?? undefined;
        if (name) claims.name = name.text ?? [...(name.given ?? []), name.family].filter(Boolean).join(' ');
      }
      sendNoStore(res, 200, claims);
    } catch (err) {
      next(err);
    }
  };
}
