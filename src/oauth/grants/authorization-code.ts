/**
 * `authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3.2):
 * - the code is consumed atomically: unknown or expired (60 s) → `invalid_grant`;
 * - a code seen before → `invalid_grant`, and the grant its first redemption created is revoked (§4.1.2), even
 *   when both redemptions run at once (tokens/single-use.ts);
 * - it must have been issued to this client, in this project, for exactly this `redirect_uri`;
 * - the PKCE verifier must hash (S256) to the stored challenge (tokens/pkce.ts);
 * - the user and membership must still be active.
 * `redirect_uri` must repeat the authorization request's; when that request omitted it (one registered URI), the
 * token request may omit it too, and if it gives one it must be that URI (RFC 6749 §4.1.3).
 */
import { randomUUID } from 'node:crypto';
import { InvalidGrantError, InvalidRequestError } from '../errors';
import { redeemAuthorizationCode } from '../tokens/authorization-codes';
import { createGrant, revokeGrant } from '../tokens/grants';
import { accessTokenLifetime, issueTokens, mayRefresh, refreshTokenLifetime, type TokenResponse } from '../tokens/issue';
import { projectSettings } from '../settings';
import { verifyPkce } from '../tokens/pkce';
import type { GrantContext } from './index';
import { userContext } from './user-context';

/** The `grant_type` value. */
export const grantType = 'authorization_code';
/** Required parameters besides client authentication. */
export const parameters: readonly string[] = ['code', 'code_verifier'];

/**
 * Exchanges a code for tokens.
 * @param ctx - the token request
 * @returns the token response
 */
export async function handle(ctx: GrantContext): Promise<TokenResponse> {
  const { body, deps, project } = ctx;
  const client = ctx.auth.client;
  const grantId = randomUUID();
  const redemption = await redeemAuthorizationCode(deps, body.code as string, grantId);
  if (redemption.status === 'reused') {
    if (redemption.grantId) await revokeGrant(deps, redemption.grantId);
    throw new InvalidGrantError('The authorization code was already used; the tokens issued for it are revoked');
  }
  if (redemption.status === 'unknown') throw new InvalidGrantError('The authorization code is invalid or expired');
  const { data } = redemption;
  if (data.project !== project.key || data.clientId !== client.id) throw new InvalidGrantError('The authorization code was issued to another client');
  if (body.redirect_uri === undefined) {
    if (!data.redirectUriOmitted) throw new InvalidRequestError('redirect_uri is required: the authorization request included it');
  } else if (data.redirectUri !== body.redirect_uri) {
    // Exactly the URI of the authorization request: for a loopback URI registered without a port (RFC 8252 §7.3)
    // that is the URI with the port the request named, so another port is refused here.
    throw new InvalidGrantError('redirect_uri does not match the authorization request');
  }
  verifyPkce(body.code_verifier as string, data.codeChallenge);
  const user = await userContext(deps, project.key, data.userId, data.membershipId);
  if (!user.active) throw new InvalidGrantError('The user or membership is no longer active');
  const settings = await projectSettings(deps.storage.resources, deps.config, project.key);
  const grant = await createGrant(
    deps,
    {
      project: project.key,
      clientId: client.id,
      userId: data.userId,
      membershipId: data.membershipId,
      scope: data.scope,
      authTime: data.authTime,
      nonce: data.nonce,
      launch: data.launch,
    },
    mayRefresh(client, data.scope) ? refreshTokenLifetime(client, settings) : accessTokenLifetime(client, 'user', settings),
    grantId,
  );
  const lifetime = accessTokenLifetime(client, 'user', settings);
  return issueTokens(deps, ctx.keys, { project, client, grant, scope: data.scope, lifetime, fhirUser: user.fhirUser, allowRefresh: true, dpopJkt: ctx.dpopJkt });
}
