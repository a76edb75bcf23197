/**
 * The login page (GET shows the form, POST checks the credentials).
 * - email + password against the project's Users (scrypt); inactive users (or users whose memberships are all
 *   inactive) are refused with exactly the answer a wrong password gets (status, page, counted as a failure, same
 *   work, so the same time): a deactivated account's password cannot be probed; the log line tells them apart;
 * - failed attempts are counted per IP and per account; over the limit → 429 page with `Retry-After`, checked
 *   before the password so a blocked account cannot be probed;
 * - success starts a new session (new id, `fhir_session` cookie), records the sign-in on the interaction and
 *   moves on to consent or back to the client;
 * - with IdentityProviders: a button per active provider; when one serves email domains, an email-first step
 *   that sends users of those domains to their provider; a provider required for a domain refuses passwords
 *   for it; a User with `passwordLogin: false` is refused like a wrong password.
 */
import { projectSettings } from '../settings';
import { recordInteractionEvent } from './audit';
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { interactionContext, type InteractionContext } from './context';
import { InteractionPageError } from './errors';
import { completeSignIn } from './flow';
import { type PageInteraction, postedInteraction, viewedInteraction } from './page-interaction';
import { type FederatedDeps, redirectToProvider, startPath } from '../federated/handlers';
import { activeProviders, emailDomain, providerForEmail } from '../federated/providers';
import { type LoginRateLimiter, loginKeys } from './rate-limit';
import { checkCredentials } from './users';
import { loginPage } from './views/pages';
import { sendPage } from './views/respond';

const INVALID = 'The email or password is incorrect.';

/** What the sign-in page shows besides the password form. */
interface LoginOptions {
  email?: string;
  error?: string;
  /** Which step of an email-first page (default: the step the project's providers call for). */
  step?: 'email' | 'password';
}

async function showLogin(
  ctx: InteractionContext,
  res: Response,
  page: PageInteraction,
  federated: FederatedDeps | undefined,
  status: number,
  extra: LoginOptions = {},
): Promise<void> {
  const { interaction, client } = page;
  const email = extra.email ?? interaction.request.loginHint;
  const providers = federated ? await activeProviders(ctx.deps.storage.resources, ctx.project.key) : [];
  const emailFirst = providers.some((p) => p.emailDomains.length > 0);
  const step = extra.step ?? (emailFirst ? 'email' : 'password');
  // The email step may answer with a redirect to a provider: Chromium applies form-action to it.
  const providerTargets =
    federated && step === 'email'
      ? await Promise.all(providers.filter((p) => p.emailDomains.length > 0).map((p) => federated.parties.authorizationEndpoint(ctx.project.key, p).catch(() => p.issuer)))
      : [];
  sendPage(res, {
    status,
    formTargets: [interaction.request.redirectUri, ...providerTargets],
    imageSources: providers.flatMap((p) => (p.logoUri ? [p.logoUri] : [])),
    ...loginPage({
      action: `${ctx.basePath}/login`,
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: client.name ?? client.id,
      ...(email !== undefined ? { email } : {}),
      ...(extra.error !== undefined ? { error: extra.error } : {}),
      providers: providers.map((p) => ({ label: p.buttonLabel, href: startPath(ctx, interaction.id, p.id), ...(p.logoUri ? { logoUri: p.logoUri } : {}) })),
      step,
    }),
  });
}

/**
 * GET /login
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function loginPageHandler(deps: OAuthDeps, federated?: FederatedDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const page = await viewedInteraction(ctx, req);
    await showLogin(ctx, res, page, federated, 200);
  };
}

/**
 * POST /login
 * @param deps - the OAuth dependencies
 * @param limiter - the failed-login limiter
 * @param federated - the identity providers' side (buttons, email-first, required providers)
 * @returns the handler
 */
export function loginSubmitHandler(deps: OAuthDeps, limiter: LoginRateLimiter, federated?: FederatedDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const page = await postedInteraction(ctx, req);
    const { interaction, client } = page;
    const body = req.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    // The email-first step and the providers required for a domain: decided by the domain alone (no account is
    // looked up), so the answer tells nothing about accounts.
    const domainProvider = federated && email ? providerForEmail(await activeProviders(deps.storage.resources, ctx.project.key), email) : undefined;
    if (body.step === 'email') {
      if (federated && domainProvider) return redirectToProvider(federated, ctx, req, res, page, domainProvider, email.trim());
      return showLogin(ctx, res, page, federated, 200, { email, step: 'password' });
    }
    if (domainProvider?.requiredForEmailDomains) {
      return showLogin(ctx, res, page, federated, 400, {
        email,
        step: 'password',
        error: `Accounts of ${emailDomain(email) ?? ''} sign in with ${domainProvider.name}.`,
      });
    }
    const keys = loginKeys(req.ip ?? req.socket.remoteAddress ?? 'unknown', ctx.project.key, email);
    const limits = (await projectSettings(deps.storage.resources, deps.config, ctx.project.key)).login;
    const wait = await limiter.retryAfter([keys.ip, keys.account], limits);
    if (wait > 0) {
      req.ctx.logger.warn({ event: 'login_blocked', project: ctx.project.key, retryAfter: wait }, 'sign-in refused: too many failures');
      recordInteractionEvent(ctx, req, 'login-failed', { clientId: client.id, status: 429, detail: 'too many failed sign-in attempts' });
      throw new InteractionPageError(429, 'Too many sign-in attempts', `Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 60)} minute(s).`, undefined, {
        'Retry-After': String(wait),
      });
    }
    const check = await checkCredentials(deps.storage.resources, ctx.project.key, email, password);
    if (!check.ok) {
      // Audit line without the email or password (the request id ties it to the access log line). An inactive
      // account is named by its User id: its owner's right password must reach an operator, not the page.
      const detail =
        check.reason === 'inactive' ? { userId: check.userId, inactive: check.inactive } : check.reason === 'federated_only' ? { userId: check.userId } : {};
      req.ctx.logger.warn({ event: 'login_failed', project: ctx.project.key, reason: check.reason, ...detail }, 'sign-in failed');
      recordInteractionEvent(ctx, req, 'login-failed', {
        clientId: client.id,
        ...(check.reason === 'inactive' ? { userId: check.userId, detail: `inactive ${check.inactive}` } : { detail: 'unknown account or wrong password' }),
        status: 401,
      });
      await limiter.recordFailure([keys.ip, keys.account], limits);
      return showLogin(ctx, res, page, federated, 401, { email, error: INVALID, step: 'password' });
    }
    await limiter.reset(keys.account);
    req.ctx.userId = check.user.id;
    req.ctx.logger.info({ event: 'login', project: ctx.project.key, userId: check.user.id }, 'signed in');
    recordInteractionEvent(ctx, req, 'login', { clientId: client.id, userId: check.user.id, status: 200 });
    await completeSignIn(ctx, req, res, { interaction, client }, { userId: check.user.id, ...(check.membershipId !== undefined ? { membershipId: check.membershipId } : {}) });
  };
}
