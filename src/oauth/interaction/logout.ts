/**
 * Logout (OIDC RP-initiated logout, reduced): GET shows a confirmation form (so that a link or image on another
 * site cannot sign the user out), POST ends the session and clears the cookie, then shows a "signed out"
 * page. `post_logout_redirect_uri` is not supported: there is no registered logout redirect to check it against.
 */
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { interactionContext } from './context';
import { clearCookie, SESSION_COOKIE } from './cookies';
import { safeEqual } from './csrf';
import { csrfRejected } from './errors';
import { currentSession } from './flow';
import { deleteSession } from './session-store';
import { readUser } from './users';
import { logoutConfirmPage, signedOutPage } from './views/pages';
import { sendPage } from './views/respond';

/**
 * GET /logout
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function logoutPageHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const session = await currentSession(ctx, req);
    if (!session) return sendPage(res, { status: 200, ...signedOutPage() });
    const user = await readUser(deps.storage.resources, ctx.project.key, session.userId);
    sendPage(res, { status: 200, ...logoutConfirmPage(ctx.pageUrl('logout'), session.csrf, user?.email ?? session.userId) });
  };
}

/**
 * POST /logout
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function logoutSubmitHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const session = await currentSession(ctx, req);
    if (session) {
      if (!safeEqual((req.body as Record<string, unknown> | undefined)?.csrf, session.csrf)) throw csrfRejected();
      await deleteSession(deps.storage.records, ctx.project.key, session.id);
    }
    clearCookie(res, SESSION_COOKIE, ctx.cookies);
    sendPage(res, { status: 200, ...signedOutPage() });
  };
}
