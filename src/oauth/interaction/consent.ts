/**
 * The consent page (GET shows the granted scopes in plain language, POST takes the decision).
 * - the user must be signed in for this request (else back to the login page), and must have picked the patient
 *   of a standalone launch when one is needed (else on to the patient picker);
 * - each resource scope has a checkbox, ticked by default; the other scopes are fixed (consent-choice.ts);
 * - Allow grants the fixed scopes and the ticked resource scopes — exactly those go into the code, the tokens and
 *   the remembered consent — and redirects with a code; a posted scope the page did not offer is refused (400).
 *   When nothing at all is left (a request of resource scopes only, every box unticked) it ends as Deny does;
 * - Deny redirects with `access_denied` (RFC 6749 §4.1.2.1), state and iss.
 * Both answers update the remembered consent for the scopes shown (consent-store.ts).
 */
import { recordInteractionEvent } from './audit';
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import type { AuthorizeClient } from './authorize-request';
import { allowedScopes, splitConsentScopes } from './consent-choice';
import { recordConsentDecision } from './consent-store';
import { interactionContext, type InteractionContext } from './context';
import { AuthorizeRedirectError, interactionExpired, InteractionPageError } from './errors';
import { endInteraction, needsPatient, redirectError, redirectWithCode, requireUser, sendRedirect, type SignedIn } from './flow';
import type { Interaction } from './interaction-store';
import { postedInteraction, viewedInteraction } from './page-interaction';
import { describeScope } from './scope-descriptions';
import { consentPage } from './views/pages';
import { sendPage } from './views/respond';

function showConsent(ctx: InteractionContext, res: Response, interaction: Interaction, client: AuthorizeClient, user: SignedIn): void {
  const { choosable, fixed } = splitConsentScopes(interaction.request.scope);
  const described = (scope: string) => ({ scope, text: describeScope(scope) });
  sendPage(res, {
    status: 200,
    formTargets: [interaction.request.redirectUri],
    ...consentPage({
      action: `${ctx.basePath}/consent`,
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: client.name ?? client.id,
      userLabel: user.name ? `${user.name} (${user.email})` : user.email,
      choosable: choosable.map(described),
      fixed: fixed.map(described),
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
 * POST /consent (`decision` = allow | deny; one `scope` field per ticked resource scope)
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function consentSubmitHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await postedInteraction(ctx, req);
    const body = req.body as Record<string, unknown>;
    const decision = body.decision;
    if (decision !== 'allow' && decision !== 'deny') {
      throw new InteractionPageError(400, 'This form could not be processed', 'Choose Allow or Deny.');
    }
    const { request } = interaction;
    // Checked before anything is consumed: a forged form changes nothing.
    const allowed = decision === 'allow' ? allowedScopes(request.scope, body.scope) : [];
    const user = await requireUser(ctx, req, res, interaction);
    if (!user) return;
    if (await needsPatient(ctx, request, user)) return sendRedirect(res, ctx.pageUrl('patient-picker', interaction.id));
    if (!(await endInteraction(ctx, res, interaction))) throw interactionExpired();
    const key = { project: ctx.project.key, userId: user.userId, clientId: client.id };
    await recordConsentDecision(deps.storage.records, key, { shown: request.scope, allowed });
    const granted = decision === 'allow' && allowed.length > 0;
    recordInteractionEvent(ctx, req, granted ? 'consent-granted' : 'consent-denied', {
      clientId: client.id,
      userId: user.userId,
      launch: request.launch,
      status: granted ? 200 : 403,
      detail: `scopes ${granted ? 'allowed' : 'shown'}: ${(granted ? allowed : request.scope).join(' ')}`.slice(0, 1000),
    });
    if (decision === 'deny') {
      return redirectError(ctx, res, request, new AuthorizeRedirectError('access_denied', 'The user denied the request'));
    }
    if (allowed.length === 0) {
      return redirectError(ctx, res, request, new AuthorizeRedirectError('access_denied', 'The user allowed none of the requested scopes'));
    }
    await redirectWithCode(ctx, res, { ...request, scope: allowed }, user);
  };
}
