/**
 * The login page (GET shows the form, POST checks the credentials).
 * - email + password against the project's Users (scrypt); inactive users (or users whose memberships are all
 *   inactive) are refused with exactly the answer a wrong password gets (status, page, counted as a failure, same
 *   work, so the same time): a deactivated account's password cannot be probed; the log line tells them apart;
 * - failed attempts are counted per IP and per account; over the limit → 429 page with `Retry-After`, checked
 *   before the password so a blocked account cannot be probed;
 * - success starts a new session (new id, `fhir_session` cookie), records the sign-in on the interaction and
 *   moves on to consent or back to the client.
 */
import { recordInteractionEvent } from './audit';
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { interactionContext, type InteractionContext } from './context';
import { readCookie, SESSION_COOKIE, writeCookie } from './cookies';
import { InteractionPageError } from './errors';
import { continueInteraction } from './flow';
import { type Interaction, saveInteractionLogin } from './interaction-store';
import { postedInteraction, viewedInteraction } from './page-interaction';
import { type LoginRateLimiter, loginKeys } from './rate-limit';
import { createSession, deleteSession } from './session-store';
import { checkCredentials } from './users';
import type { AuthorizeClient } from './authorize-request';
import { loginPage } from './views/pages';
import { sendPage } from './views/respond';

const INVALID = 'The email or password is incorrect.';

function showLogin(ctx: InteractionContext, res: Response, interaction: Interaction, client: AuthorizeClient, status: number, extra: { email?: string; error?: string } = {}): void {
  const email = extra.email ?? interaction.request.loginHint;
  sendPage(res, {
    status,
    formTargets: [interaction.request.redirectUri],
    ...loginPage({
      action: `${ctx.basePath}/login`,
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: client.name ?? client.id,
      ...(email !== undefined ? { email } : {}),
      ...(extra.error !== undefined ? { error: extra.error } : {}),
    }),
  });
}

/**
 * GET /login
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function loginPageHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await viewedInteraction(ctx, req);
    showLogin(ctx, res, interaction, client, 200);
  };
}

/**
 * POST /login
 * @param deps - the OAuth dependencies
 * @param limiter - the failed-login limiter
 * @returns the handler
 */
export function loginSubmitHandler(deps: OAuthDeps, limiter: LoginRateLimiter) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await postedInteraction(ctx, req);
    const body = req.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const keys = loginKeys(req.ip ?? req.socket.remoteAddress ?? 'unknown', ctx.project.key, email);
    const wait = await limiter.retryAfter([keys.ip, keys.account]);
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
      const detail = check.reason === 'inactive' ? { userId: check.userId, inactive: check.inactive } : {};
      req.ctx.logger.warn({ event: 'login_failed', project: ctx.project.key, reason: check.reason, ...detail }, 'sign-in failed');
      recordInteractionEvent(ctx, req, 'login-failed', {
        clientId: client.id,
        ...(check.reason === 'inactive' ? { userId: check.userId, detail: `inactive ${check.inactive}` } : { detail: 'unknown account or wrong password' }),
        status: 401,
      });
      await limiter.recordFailure([keys.ip, keys.account]);
      return showLogin(ctx, res, interaction, client, 401, { email, error: INVALID });
    }
    await limiter.reset(keys.account);
    req.ctx.userId = check.user.id;
    req.ctx.logger.info({ event: 'login', project: ctx.project.key, userId: check.user.id }, 'signed in');
    recordInteractionEvent(ctx, req, 'login', { clientId: client.id, userId: check.user.id, status: 200 });
    const previous = readCookie(req, SESSION_COOKIE);
    if (previous) await deleteSession(deps.storage.records, ctx.project.key, previous);
    const authTime = Math.floor(Date.now() / 1000);
    const login = { userId: check.user.id, ...(check.membershipId !== undefined ? { membershipId: check.membershipId } : {}), authTime };
    const session = await createSession(deps.storage.records, { project: ctx.project.key, ...login }, deps.config.sessionLifetimeSeconds);
    writeCookie(res, SESSION_COOKIE, session.id, ctx.cookies, deps.config.sessionLifetimeSeconds);
    const updated = await saveInteractionLogin(deps.storage.records, interaction, login);
    await continueInteraction(ctx, res, updated, client, session);
  };
}
