/**
 * The authorization endpoint, GET and POST (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636, RFC 9207).
 * - client first; then the parameters themselves: a pushed request (`request_uri`, RFC 9126) or a signed request
 *   object (`request`, RFC 9101) replaces the query (requests/authorization-params.ts);
 * - client and redirect URI: unknown/inactive client or unregistered redirect URI → HTML error page (400),
 *   never a redirect; every later error → redirect with error, error_description, state, iss;
 * - `prompt=none`: a code at once, or `login_required` / `interaction_required` (a standalone launch needs the
 *   patient picker) / `consent_required`;
 * - a signed-in user with consent on record (or a client with `consentRequired: false`) gets a code at once;
 * - otherwise the request is stored as an interaction bound to this browser by a cookie, and the browser goes
 *   to the login page, the patient picker (standalone launch, no linked Patient) or the consent page.
 * Responses are never cached.
 */
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { grantScopes } from '../scopes';
import { loadAuthorizeClient } from '../interaction/authorize-client';
import { type AuthorizeClient, checkClientAndRedirect, validateAuthorizationRequest } from '../interaction/authorize-request';
import { interactionContext, type InteractionContext } from '../interaction/context';
import { interactionCookie, writeCookie } from '../interaction/cookies';
import { AuthorizeRedirectError, untrustedRequest } from '../interaction/errors';
import { currentSession, needsConsent, needsPatient, redirectError, redirectWithCode, signedInUser } from '../interaction/flow';
import { type AuthorizationRequest, createInteraction, INTERACTION_LIFETIME_SECONDS } from '../interaction/interaction-store';
import { readParams, singleParam } from '../interaction/params';
import { applySmartLaunch } from '../../smart/authorize-launch';
import { authorizationParams } from '../requests/authorization-params';
import { MAX_REQUEST_OBJECT_LENGTH } from '../requests/request-object';

async function startAuthorization(ctx: InteractionContext, req: Request, res: Response, request: AuthorizationRequest, client: AuthorizeClient): Promise<void> {
  const session = await currentSession(ctx, req);
  const user = await signedInUser(ctx, request, session);
  if (user) req.ctx.userId = user.userId;
  const consent = user ? await needsConsent(ctx, client, request, user.userId) : true;
  const patient = user ? await needsPatient(ctx, request, user) : false;
  if (request.prompt.includes('none')) {
    if (!user) throw new AuthorizeRedirectError('login_required', 'The user is not signed in');
    if (patient) throw new AuthorizeRedirectError('interaction_required', 'The user must choose a patient for the launch/patient scope');
    if (consent) throw new AuthorizeRedirectError('consent_required', 'The user has not allowed the requested scopes for this client');
  }
  if (user && !consent && !patient) return redirectWithCode(ctx, res, request, user);
  const interaction = await createInteraction(ctx.deps.storage.records, ctx.project.key, request);
  writeCookie(res, interactionCookie(interaction.id), interaction.id, ctx.cookies, INTERACTION_LIFETIME_SECONDS);
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(303, ctx.pageUrl(!user ? 'login' : patient ? 'patient-picker' : 'consent', interaction.id));
}

/**
 * The `/authorize` handler (GET reads the query, POST the url-encoded form).
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function authorizeHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const query = readParams(req.method === 'POST' ? req.body : req.query, { request: MAX_REQUEST_OBJECT_LENGTH });
    const clientId = singleParam(query, 'client_id');
    if (clientId === undefined && !query.duplicates.has('client_id')) throw untrustedRequest('The client_id parameter is required.');
    const loaded = clientId === undefined ? undefined : await loadAuthorizeClient(deps, ctx.project.key, clientId);
    // A pushed request (request_uri) or a request object (request) replaces the query's parameters.
    const params = loaded && loaded.client.status === 'active' ? await authorizationParams(deps, ctx.project, loaded.resource, query) : query;
    const target = checkClientAndRedirect(loaded?.client, params);
    const { client, resource } = loaded as NonNullable<typeof loaded>;
    // A registered client whose redirect_uri matched: the access log names it.
    req.ctx.clientId = clientId;
    try {
      const request = validateAuthorizationRequest(params, client, target, (requested) => grantScopes(requested, resource));
      await applySmartLaunch(deps.storage.records, ctx.project, params, request);
      await startAuthorization(ctx, req, res, request, client);
    } catch (err) {
      if (err instanceof AuthorizeRedirectError) return redirectError(ctx, res, target, err);
      throw err;
    }
  };
}
