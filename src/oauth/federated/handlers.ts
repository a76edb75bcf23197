/**
 * Federated sign-in, under the project's OAuth base:
 * - `GET /federated/start?interaction={id}&provider={IdentityProvider id}` — the sign-in buttons (links, no
 *   JavaScript): the interaction must be this browser's (its cookie); the provider must be active. A fresh
 *   `state`, `nonce` and PKCE verifier are stored (flow-store.ts) and the browser goes to the provider's
 *   authorization endpoint (authorization code flow, `S256`);
 * - `GET /federated/callback` — the provider's redirect: the flow is taken by `state` (once), must belong to an
 *   interaction whose cookie this browser holds, and its provider must still be active; an `error` from the
 *   provider is a page (access_denied: 403); otherwise openid-client redeems the code and verifies the id_token,
 *   the User is matched (link-user.ts), and the sign-in completes like a password sign-in: new session, then
 *   patient picker / consent / a code of THIS server for the client. The provider's tokens are used only here
 *   and never stored or passed on.
 * Every refusal is an HTML page (never a redirect to a URL taken from the request: no open redirect), a
 * `login_failed` log line with the reason and provider, and a failed attempt for the client IP's sign-in limit.
 */
import { projectSettings } from '../settings';
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { interactionContext, type InteractionContext } from '../interaction/context';
import { InteractionPageError } from '../interaction/errors';
import { recordInteractionEvent } from '../interaction/audit';
import { completeSignIn, sendRedirect } from '../interaction/flow';
import { interactionOfBrowser, type PageInteraction, viewedInteraction } from '../interaction/page-interaction';
import { type LoginRateLimiter, loginKeys } from '../interaction/rate-limit';
import { consumeFlow, saveFlow } from './flow-store';
import { type FederatedClaims, matchUser, type NoMatchReason } from './link-user';
import { type FederatedProvider, readProvider } from './providers';
import { ProviderUnavailableError, type RelyingParties } from './relying-party';

/** The callback path under the project's OAuth base; the redirect URI to register at the provider. */
export const CALLBACK_PATH = '/federated/callback';

/** What the federated handlers share. */
export interface FederatedDeps {
  deps: OAuthDeps;
  parties: RelyingParties;
  limiter: LoginRateLimiter;
}

/**
 * The redirect URI of a project (`{issuer}/api/v1/oauth/federated/callback`).
 * @param ctx - the interaction context
 * @returns the URI
 */
export function callbackUri(ctx: InteractionContext): string {
  return `${ctx.project.issuer}/api/v1/oauth${CALLBACK_PATH}`;
}

/**
 * The link of a provider's sign-in button.
 * @param ctx - the interaction context
 * @param interactionId - the interaction
 * @param providerId - the IdentityProvider id
 * @returns the path
 */
export function startPath(ctx: InteractionContext, interactionId: string, providerId: string): string {
  return `${ctx.basePath}/federated/start?${new URLSearchParams({ interaction: interactionId, provider: providerId }).toString()}`;
}

function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

async function checkLimit(f: FederatedDeps, req: Request, ctx: InteractionContext): Promise<void> {
  const limits = (await projectSettings(f.deps.storage.resources, f.deps.config, ctx.project.key)).login;
  const wait = await f.limiter.retryAfter([loginKeys(clientIp(req), ctx.project.key, '').ip], limits);
  if (wait > 0) {
    req.ctx.logger.warn({ event: 'login_blocked', project: ctx.project.key, retryAfter: wait }, 'sign-in refused: too many failures');
    throw new InteractionPageError(429, 'Too many sign-in attempts', `Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 60)} minute(s).`, undefined, {
      'Retry-After': String(wait),
    });
  }
}

/** A refused federated sign-in: logged, counted, shown as a page. */
async function refuse(
  f: FederatedDeps,
  req: Request,
  ctx: InteractionContext,
  detail: { reason: string; provider?: string; userId?: string; cause?: unknown },
  page: InteractionPageError,
): Promise<never> {
  const cause = detail.cause as { name?: unknown; code?: unknown; error?: unknown; message?: unknown; cause?: { message?: unknown } } | undefined;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, 200) : undefined);
  req.ctx.logger.warn(
    {
      event: 'login_failed',
      project: ctx.project.key,
      method: 'federated',
      reason: detail.reason,
      ...(detail.provider ? { provider: detail.provider } : {}),
      ...(detail.userId ? { userId: detail.userId } : {}),
      // The library's own words (which check failed); never a token or a secret.
      ...(cause ? { cause: { name: cause.name, code: cause.code, error: cause.error, message: text(cause.message), detail: text(cause.cause?.message) } } : {}),
    },
    'federated sign-in failed',
  );
  recordInteractionEvent(ctx, req, 'login-failed', {
    ...(detail.userId ? { userId: detail.userId } : {}),
    status: page.status,
    detail: `federated${detail.provider ? ` IdentityProvider/${detail.provider}` : ''}: ${detail.reason}`,
  });
  await f.limiter.recordFailure([loginKeys(clientIp(req), ctx.project.key, '').ip], (await projectSettings(f.deps.storage.resources, f.deps.config, ctx.project.key)).login);
  throw page;
}

const UNAVAILABLE = (): InteractionPageError =>
  new InteractionPageError(400, 'This sign-in option is not available', 'The identity provider is unknown or switched off. Go back and choose another way to sign in.');
const UNREACHABLE = (): InteractionPageError =>
  new InteractionPageError(502, 'The identity provider cannot be reached', 'Signing in through the identity provider is not possible right now. Try again later or choose another way to sign in.');

/**
 * Sends the browser to a provider (the buttons and the email-first step).
 * @param f - the federated dependencies
 * @param ctx - the interaction context
 * @param req - the request
 * @param res - the response
 * @param page - the interaction
 * @param provider - an active provider
 * @param loginHint - the email typed on the email-first step
 */
export async function redirectToProvider(
  f: FederatedDeps,
  ctx: InteractionContext,
  req: Request,
  res: Response,
  page: PageInteraction,
  provider: FederatedProvider,
  loginHint?: string,
): Promise<void> {
  const { lib } = f.parties;
  let endpoint: string;
  try {
    endpoint = await f.parties.authorizationEndpoint(ctx.project.key, provider);
  } catch (err) {
    if (err instanceof ProviderUnavailableError) return refuse(f, req, ctx, { reason: 'provider_unreachable', provider: provider.id, cause: err.cause }, UNREACHABLE());
    throw err;
  }
  const state = lib.randomState();
  const nonce = lib.randomNonce();
  const codeVerifier = provider.pkce ? lib.randomPKCECodeVerifier() : undefined;
  const request = page.interaction.request;
  const url = new URL(endpoint);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: provider.clientId,
    redirect_uri: callbackUri(ctx),
    scope: provider.scope,
    state,
    nonce,
    ...(codeVerifier ? { code_challenge: await lib.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256' } : {}),
    ...(loginHint ? { login_hint: loginHint } : {}),
    // A client that asked for a fresh sign-in gets one at the provider too.
    ...(request.prompt.includes('login') ? { prompt: 'login' } : {}),
    ...(request.maxAge !== undefined ? { max_age: String(request.maxAge) } : {}),
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  await saveFlow(ctx.deps.storage.records, state, {
    project: ctx.project.key,
    providerId: provider.id,
    interactionId: page.interaction.id,
    nonce,
    ...(codeVerifier ? { codeVerifier } : {}),
    ...(loginHint ? { loginHint } : {}),
    createdAt: new Date().toISOString(),
  });
  sendRedirect(res, url.href);
}

/**
 * GET /federated/start
 * @param f - the federated dependencies
 * @returns the handler
 */
export function federatedStartHandler(f: FederatedDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(f.deps, req);
    const page = await viewedInteraction(ctx, req);
    await checkLimit(f, req, ctx);
    const id = typeof req.query.provider === 'string' ? req.query.provider : '';
    const provider = await readProvider(f.deps.storage.resources, ctx.project.key, id);
    if (!provider?.active) return refuse(f, req, ctx, { reason: provider ? 'provider_inactive' : 'provider_unknown' }, UNAVAILABLE());
    await redirectToProvider(f, ctx, req, res, page, provider);
  };
}

const NO_MATCH: Record<NoMatchReason, [status: number, title: string, message: string]> = {
  email_unverified: [403, 'Your email address is not verified', 'The identity provider did not confirm that your email address is verified, so it cannot be matched to an account here.'],
  email_missing: [403, 'No email address', 'The identity provider did not share your email address, so it cannot be matched to an account here.'],
  email_domain: [403, 'This account cannot sign in here', 'The identity provider may not sign in accounts of your email domain here.'],
  no_user: [403, 'No account for you here', 'You signed in at the identity provider, but no account of this service matches you. Ask an administrator to create one.'],
  identity_conflict: [403, 'This account cannot sign in here', 'The account with your email address is linked to another account at this identity provider.'],
  inactive: [403, 'This account cannot sign in here', 'Your account is not active. Ask an administrator.'],
  provision_conflict: [403, 'This account cannot sign in here', 'An account could not be created for you here. Ask an administrator.'],
};

/**
 * GET /federated/callback
 * @param f - the federated dependencies
 * @returns the handler
 */
export function federatedCallbackHandler(f: FederatedDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(f.deps, req);
    await checkLimit(f, req, ctx);
    const query = req.query as Record<string, unknown>;
    const state = typeof query.state === 'string' ? query.state : '';
    const flow = state ? await consumeFlow(f.deps.storage.records, ctx.project.key, state) : undefined;
    if (!flow) {
      return refuse(f, req, ctx, { reason: 'state_mismatch' }, new InteractionPageError(400, 'This sign-in response is not valid', 'The answer of the identity provider does not belong to a sign-in started in this browser, or it was already used. Go back to the application and start again.'));
    }
    let page: PageInteraction;
    try {
      page = await interactionOfBrowser(ctx, req, flow.interactionId);
    } catch (err) {
      return refuse(f, req, ctx, { reason: 'state_browser', provider: flow.providerId }, err instanceof InteractionPageError ? err : UNAVAILABLE());
    }
    const provider = await readProvider(f.deps.storage.resources, ctx.project.key, flow.providerId);
    if (!provider?.active) return refuse(f, req, ctx, { reason: 'provider_inactive', provider: flow.providerId }, UNAVAILABLE());
    if (query.error !== undefined) {
      const code = typeof query.error === 'string' && /^[a-z_]{1,64}$/.test(query.error) ? query.error : 'error';
      const denied = code === 'access_denied';
      return refuse(
        f,
        req,
        ctx,
        { reason: 'upstream_error', provider: provider.id, cause: { error: code } },
        new InteractionPageError(
          denied ? 403 : 400,
          denied ? 'Sign-in was cancelled' : 'The identity provider did not sign you in',
          denied ? `${provider.name} did not sign you in. Go back to the application to try again or choose another way to sign in.` : `${provider.name} answered with an error. Go back to the application and try again.`,
          code,
        ),
      );
    }
    const claims = await verifiedClaims(f, req, ctx, provider, flow);
    const match = await matchUser(f.deps.storage.resources, ctx.project.key, provider, claims);
    if (!match.ok) {
      const [status, title, message] = NO_MATCH[match.reason];
      return refuse(f, req, ctx, { reason: match.reason, provider: provider.id, ...(match.userId ? { userId: match.userId } : {}) }, new InteractionPageError(status, title, message));
    }
    req.ctx.logger.info(
      { event: 'login', method: 'federated', project: ctx.project.key, provider: provider.id, userId: match.user.id, linked: match.linked, provisioned: match.provisioned },
      'signed in',
    );
    recordInteractionEvent(ctx, req, 'login', { clientId: page.client.id, userId: match.user.id, status: 200, detail: `federated: IdentityProvider/${provider.id}` });
    await f.limiter.reset(loginKeys(clientIp(req), ctx.project.key, match.user.email).account);
    await completeSignIn(ctx, req, res, page, { userId: match.user.id, ...(match.membershipId !== undefined ? { membershipId: match.membershipId } : {}) });
  };
}

async function verifiedClaims(
  f: FederatedDeps,
  req: Request,
  ctx: InteractionContext,
  provider: FederatedProvider,
  flow: { nonce: string; codeVerifier?: string },
): Promise<FederatedClaims> {
  const { lib } = f.parties;
  let config;
  try {
    config = await f.parties.configuration(ctx.project.key, provider);
  } catch (err) {
    return refuse(f, req, ctx, { reason: 'provider_unreachable', provider: provider.id, cause: err instanceof ProviderUnavailableError ? err.cause : err }, UNREACHABLE());
  }
  // The URL the provider redirected to, as openid-client checks it (state, iss, code).
  const search = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
  const currentUrl = new URL(`${callbackUri(ctx)}${search}`);
  try {
    const tokens = await lib.authorizationCodeGrant(
      config,
      currentUrl,
      { expectedState: currentUrl.searchParams.get('state') ?? '', expectedNonce: flow.nonce, idTokenExpected: true, ...(flow.codeVerifier ? { pkceCodeVerifier: flow.codeVerifier } : {}) },
      { redirect_uri: callbackUri(ctx) },
    );
    f.parties.keepJwks(ctx.project.key, provider, config);
    const idToken = tokens.claims();
    if (!idToken) throw new Error('no id_token');
    let source: Record<string, unknown> = idToken;
    const wantsEmail = provider.userMatching === 'email' || provider.autoProvision;
    if (wantsEmail && typeof idToken.email !== 'string' && config.serverMetadata().userinfo_endpoint) {
      // The subject of the UserInfo answer must equal the id_token's (openid-client checks it).
      source = { ...(await lib.fetchUserInfo(config, tokens.access_token, idToken.sub)), sub: idToken.sub };
    }
    return {
      sub: idToken.sub,
      ...(typeof source.email === 'string' ? { email: source.email } : {}),
      emailVerified: source.email_verified === true,
      ...(typeof source.name === 'string' ? { name: source.name } : {}),
      ...(typeof source.given_name === 'string' ? { givenName: source.given_name } : {}),
      ...(typeof source.family_name === 'string' ? { familyName: source.family_name } : {}),
    };
  } catch (err) {
    if (err instanceof InteractionPageError) throw err;
    return refuse(
      f,
      req,
      ctx,
      { reason: 'upstream_response', provider: provider.id, cause: err },
      new InteractionPageError(400, 'The sign-in could not be verified', `The answer of ${provider.name} could not be verified, so you are not signed in. Go back to the application and try again.`),
    );
  }
}
