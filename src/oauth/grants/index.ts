/**
 * The grant types of the token endpoint (RFC 6749 §4.1.3, §4.4, §6). Each takes the authenticated client and the
 * form body and returns the token response.
 */
import type { AuthenticatedClient } from '../clients/client-auth';
import { clientGrantTypes } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import { UnauthorizedClientError, UnsupportedGrantTypeError } from '../errors';
import type { OAuthProject } from '../project';
import type { KeyStore } from '../tokens/keys';
import type { TokenResponse } from '../tokens/issue';
import { authorizationCodeGrant } from './authorization-code';
import { clientCredentialsGrant } from './client-credentials';
import { refreshTokenGrant } from './refresh-token';

/** What a grant handler gets. */
export interface GrantContext {
  deps: OAuthDeps;
  keys: KeyStore;
  project: OAuthProject;
  auth: AuthenticatedClient;
  body: Record<string, unknown>;
}

/** A grant type handler. */
export type GrantHandler = (ctx: GrantContext) => Promise<TokenResponse>;

/** Supported grant types. */
export const GRANT_HANDLERS: Record<string, GrantHandler> = {
  authorization_code: authorizationCodeGrant,
  client_credentials: clientCredentialsGrant,
  refresh_token: refreshTokenGrant,
};

/**
 * Runs the grant named by `grant_type`.
 * @param grantType - the `grant_type` parameter
 * @param ctx - the request context
 * @returns the token response
 */
export async function runGrant(grantType: string, ctx: GrantContext): Promise<TokenResponse> {
  const handler = Object.prototype.hasOwnProperty.call(GRANT_HANDLERS, grantType) ? GRANT_HANDLERS[grantType] : undefined;
  if (!handler) throw new UnsupportedGrantTypeError(`grant_type '${grantType}' is not supported`);
  if (!clientGrantTypes(ctx.auth.client).includes(grantType)) throw new UnauthorizedClientError(`This client may not use the ${grantType} grant`);
  return handler(ctx);
}
