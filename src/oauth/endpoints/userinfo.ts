/**
 * `GET|POST {issuer}/api/v1/oauth/userinfo` (OIDC Core §5.3):
 * - a bearer access token of this project, valid and active exactly as the FHIR API requires (RFC 6750 §3.1,
 *   oauth/bearer.ts): none sent → 401 with `WWW-Authenticate: Bearer realm="<issuer>"` and no error code (body
 *   `{ error_description }`); one sent but not valid → 401 `invalid_token`;
 * - issued to a user with `openid` granted (403 `insufficient_scope` otherwise);
 * - claims: `sub` always; `fhirUser` with the fhirUser scope; `email` and `email_verified` (User.emailVerified) with
 *   email or profile; `name` with profile.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { BearerAuthenticator } from '../bearer';
import type { OAuthDeps } from '../deps';
import { InsufficientScopeError } from '../errors';
import { sendNoStore } from './respond';
import { endpointDpopRequest, loadProject, noCache, oauthLocals } from './steps';

interface HumanName {
  text?: string;
  given?: string[];
  family?: string;
}

function displayName(name: unknown): string | undefined {
  const first = (Array.isArray(name) ? name[0] : name) as HumanName | undefined;
  if (!first || typeof first !== 'object') return undefined;
  const text = first.text ?? [...(Array.isArray(first.given) ? first.given : []), first.family].filter((p) => typeof p === 'string' && p).join(' ');
  return text || undefined;
}

/**
 * Answers the claims of the token's user.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the step
 */
function userClaims(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler {
  return async function userClaimsStep(req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const auth = await bearer.authenticate(req.get('authorization'), project, () => endpointDpopRequest(req, res, `${project.oauthBase}/userinfo`));
    req.ctx.clientId = auth.clientId;
    req.ctx.userId = auth.userId;
    if (!auth.userId || !auth.scopes.includes('openid')) {
      throw new InsufficientScopeError('The token was not issued to a user with the openid scope', 'openid', project.issuer).forDpop(auth.jkt !== undefined);
    }
    const user = (await deps.storage.resources.readCurrent(project.key, 'User', auth.userId))?.resource;
    const claims: Record<string, unknown> = { sub: `User/${auth.userId}` };
    if (auth.fhirUser && auth.scopes.includes('fhirUser')) claims.fhirUser = auth.fhirUser;
    if ((auth.scopes.includes('email') || auth.scopes.includes('profile')) && typeof user?.email === 'string') {
      claims.email = user.email;
      claims.email_verified = user.emailVerified === true;
    }
    if (auth.scopes.includes('profile')) {
      const name = displayName(user?.name);
      if (name) claims.name = name;
    }
    sendNoStore(res, 200, claims);
  };
}

/**
 * The userinfo endpoint.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns its middleware, in order
 */
export function userinfoEndpoint(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler[] {
  return [noCache, loadProject(deps), userClaims(deps, bearer)];
}
