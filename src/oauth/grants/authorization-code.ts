/**
 * `authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6): the code must be unused, unexpired, issued to this client
 * for this redirect_uri, and the verifier must hash (S256) to its challenge. A second redemption revokes what the
 * first one issued.
 */
import { createHash } from 'node:crypto';
import { InvalidGrantError, InvalidRequestError } from '../errors';
import { redeemAuthorizationCode } from '../tokens/authorization-codes';
import { createGrant, revokeGrant } from '../tokens/grants';
import { issueTokens, refreshTokenLifetime, type TokenResponse } from '../tokens/issue';
import type { GrantContext } from './index';
import { userContext } from './user-context';

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Handles `grant_type=authorization_code`. */
export async function authorizationCodeGrant(ctx: GrantContext): Promise<TokenResponse> {
  const { body, deps } = ctx;
  const code = typeof body.code === 'string' ? body.code : undefined;
  const verifier = typeof body.code_verifier === 'string' ? body.code_verifier : undefined;
  if (!code) throw new InvalidRequestError('code is required');
  if (!verifier) throw new InvalidRequestError('code_verifier is required (PKCE)');
  if (typeof body.redirect_uri !== 'string') throw new InvalidRequestError('redirect_uri is required');
  const redemption = await redeemAuthorizationCode(deps, code);
  if (redemption.status === 'reused') {
    if (redemption.grantId) await revokeGrant(deps, redemption.grantId);
    throw new InvalidGrantError('The authorization code was already used; the tokens issued for it are revoked');
  }
  if (redemption.status === 'unknown') throw new InvalidGrantError('The authorization code is invalid or expired');
  const { data } = redemption;
  const client = ctx.auth.client;
  if (data.project !== ctx.project.key || data.clientId !== client.id) throw new InvalidGrantError('The authorization code was issued to another client');
  if (data.redirectUri !== body.redirect_uri) throw new InvalidGrantError('redirect_uri does not match the authorization request');
  if (!VERIFIER.test(verifier)) throw new InvalidGrantError('code_verifier must be 43-128 characters of [A-Za-z0-9-._~]');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  if (verifier === data.codeChallenge || challenge !== data.codeChallenge) throw new InvalidGrantError('code_verifier does not match the code challenge');
  const user = await userContext(deps, ctx.project.key, data.userId, data.membershipId);
  if (!user.active) throw new InvalidGrantError('The user or membership is no longer active');
  const grant = await createGrant(
    deps,
    {
      project: ctx.project.key,
      clientId: client.id,
      userId: data.userId,
      membershipId: data.membershipId,
      scope: data.scope,
      authTime: data.authTime,
      nonce: data.nonce,
      launch: data.launch,
    },
    refreshTokenLifetime(client),
  );
  await redemption.markUsed(grant.grantId);
  return issueTokens(deps, ctx.keys, { project: ctx.project, client, grant, scope: data.scope, fhirUser: user.fhirUser, allowRefresh: true });
}
