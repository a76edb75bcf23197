/**
 * `POST {issuer}/api/v1/oauth/par` — the pushed authorization request endpoint (RFC 9126).
 * Steps: no-store → project → form (as at the token endpoint: url-encoded, no repeated parameter) → client
 * authentication exactly as at the token endpoint (a public client sends its `client_id`) → the request:
 * - `request_uri` may not be pushed (§2.1); a `client_id` naming another client is `invalid_request`;
 * - a `request` parameter (RFC 9101) is verified and its claims become the request (requests/request-object.ts;
 *   `invalid_request_object`);
 * - the parameters are validated as `/authorize` validates them — redirect URI registered, `response_type=code`,
 *   the client's grant types, PKCE S256, grantable scopes, `prompt`, `max_age`, SMART `aud` and `launch` — and any
 *   failure is the same error code as JSON (400);
 * - success: 201 `{ "request_uri": "urn:ietf:params:oauth:request_uri:…", "expires_in": 60 }`.
 * The authorization endpoint validates the pushed parameters again when the request_uri is used (the client or the
 * launch may have changed in between).
 */
import type { Request, RequestHandler, Response } from 'express';
import { applySmartLaunch } from '../../smart/authorize-launch';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError, OAuthError } from '../errors';
import { loadAuthorizeClient } from '../interaction/authorize-client';
import { checkClientAndRedirect, validateAuthorizationRequest } from '../interaction/authorize-request';
import { AuthorizeRedirectError, InteractionPageError } from '../interaction/errors';
import type { OAuthParams } from '../interaction/params';
import { storePushedRequest } from '../requests/pushed-requests';
import { requestObjectParams } from '../requests/request-object';
import { grantScopes } from '../scopes';
import { sendNoStore } from './respond';
import { clientAuthentication, loadProject, noCache, oauthLocals, parseForm } from './steps';

/** Client authentication parameters: they authenticate the push and are not part of the request. */
const CLIENT_CREDENTIALS = new Set(['client_secret', 'client_assertion', 'client_assertion_type']);

function asJsonError(err: unknown): unknown {
  if (err instanceof AuthorizeRedirectError) return new OAuthError(err.code, 400, err.description);
  if (err instanceof InteractionPageError) return new OAuthError(err.code ?? 'invalid_request', 400, err.message);
  return err;
}

function pushStep(deps: OAuthDeps): RequestHandler {
  return async function pushStep(_req: Request, res: Response): Promise<void> {
    const { params, project, client: authenticated } = oauthLocals(res);
    const client = authenticated.client;
    if (params.request_uri !== undefined) throw new InvalidRequestError('request_uri cannot be pushed');
    if (params.client_id !== undefined && params.client_id !== client.id) throw new InvalidRequestError('client_id is not the authenticated client');
    let request: OAuthParams;
    if (params.request !== undefined) {
      request = await requestObjectParams(deps, project, client, params.request);
    } else {
      const values = new Map(Object.entries(params).filter(([name, value]) => !CLIENT_CREDENTIALS.has(name) && value !== ''));
      values.set('client_id', client.id);
      request = { values, duplicates: new Set(), oversized: new Set() };
    }
    const loaded = await loadAuthorizeClient(deps, project.key, client.id);
    if (!loaded) throw new InvalidRequestError('Unknown client');
    try {
      const target = checkClientAndRedirect(loaded.client, request);
      const validated = validateAuthorizationRequest(request, loaded.client, target, (requested) => grantScopes(requested, loaded.resource));
      await applySmartLaunch(deps.storage.records, project, request, validated);
    } catch (err) {
      throw asJsonError(err);
    }
    const { requestUri, expiresIn } = await storePushedRequest(deps.storage.records, project.key, client.id, Object.fromEntries(request.values));
    sendNoStore(res, 201, { request_uri: requestUri, expires_in: expiresIn });
  };
}

/**
 * The PAR endpoint.
 * @param deps - OAuth dependencies
 * @returns its middleware, in order
 */
export function parEndpoint(deps: OAuthDeps): RequestHandler[] {
  return [noCache, loadProject(deps), parseForm, clientAuthentication(deps, 'par'), pushStep(deps)];
}
