/**
 * The consent page (GET shows the granted scopes in plain language, POST takes the decision).
 * - the user must be signed in for this request (else back to the login page), and must have picked the patient
 *   of a standalone launch when one is needed (else on to the patient picker);
 * - Allow remembers the scopes for this user and client and redirects with a code;
 * - Deny redirects with `access_denied` (RFC 6749 §4.1.2.1), state and iss.
 */
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import type { AuthorizeClient } from './authorize-request';
import { rememberConsent } from './consent-store';
import { interactionContext, type InteractionContext } from './context';
import { AuthorizeRedirectError, interactionExpired, InteractionPageError } from './errors';
import { endInteraction, needsPatient, redirectError, redirectWithCode, requireUser, sendRedirect, type SignedIn } from './flow';
import type { Interaction } from './interaction-store';
import { postedInteraction, viewedInteraction } from './page-interaction';
import { describeScope } from './scope-descriptions';
import { consentPage } from './views/pages';
import { sendPage } from './views/respond';

function showConsent(ctx: InteractionContext, res: Response, interaction: Interaction, client: AuthorizeClient, user: SignedIn): void {
  sendPage(res, {
    status: 200,
    formTargets: [interaction.request.redirectUri],
    ...consentPage({
      action: `${ctx.basePath}/consent`,
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: client.name ?? client.id,
      userLabel: user.name ? `${user.name} (${user.email})` : user.email,
      scopes: interaction.request.scope.map((scope) => ({ scope, text: describeScope(scope) })),
    }),
  });
}

/**
 * GET /consent
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function consentPageHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await viewedInteraction(ctx, req);
    const user = await requireUser(ctx, req, res, interaction);
    if (!user) return;
    if (await needsPatient(ctx, interaction.request, user)) return sendRedirect(res, ctx.pageUrl('patient-picker', interaction.id));
    showConsent(ctx, res, interaction, client, user);
  };
}

/**
 * POST /consent (`decision` = allow | deny)
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function consentSubmitHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await postedInteraction(ctx, req);
    const decision = (req.body as Record<string, unknown>).decision;
    if (decision !== 'allow' && decision !== 'deny') {
      throw new InteractionPageError(400, 'This form could not be processed', 'Choose Allow or Deny.');
    }
    const user = await requireUser(ctx, req, res, interaction);
    if (!user) return;
    if (await needsPatient(ctx, interaction.request, user)) return sendRedirect(res, ctx.pageUrl('patient-picker', interaction.id));
    if (!(await endInteraction(ctx, res, interaction))) throw interactionExpired();
    const { request } = interaction;
    if (decision === 'deny') {
      return redirectError(ctx, res, request, new AuthorizeRedirectError('access_denied', 'The user denied the request'));
    }
    await rememberConsent(deps.storage.records, ctx.project.key, user.userId, client.id, request.scope);
    await redirectWithCode(ctx, res, request, user);
  };
}
