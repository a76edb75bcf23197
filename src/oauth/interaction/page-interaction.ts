/**
 * Finds the interaction a login or consent page belongs to. The id comes from the page URL or the form, and
 * must equal the interaction cookie set by `/authorize` in this browser; a form post must also carry the
 * interaction's CSRF token. The client is re-read, so a client deactivated mid-flow stops the flow.
 */
import type { Request } from 'express';
import { loadAuthorizeClient } from './authorize-client';
import type { AuthorizeClient } from './authorize-request';
import type { InteractionContext } from './context';
import { interactionCookie, readCookie } from './cookies';
import { safeEqual } from './csrf';
import { csrfRejected, interactionExpired, untrustedRequest } from './errors';
import { type Interaction, loadInteraction } from './interaction-store';

/** A live interaction and its client. */
export interface PageInteraction {
  interaction: Interaction;
  client: AuthorizeClient;
}

function boundToBrowser(req: Request, id: unknown): id is string {
  return typeof id === 'string' && id.length <= 128 && safeEqual(readCookie(req, interactionCookie(id)), id);
}

/**
 * Loads the interaction for a page view (GET).
 * @param ctx - the interaction context
 * @param req - the request (`?interaction=` and the cookie)
 * @returns the interaction and client
 * @throws InteractionPageError (400) when it is unknown, expired or not this browser's
 */
export async function viewedInteraction(ctx: InteractionContext, req: Request): Promise<PageInteraction> {
  const id = req.query.interaction;
  if (!boundToBrowser(req, id)) throw interactionExpired();
  return load(ctx, id);
}

/**
 * Loads the interaction for a form post and checks its CSRF token.
 * @param ctx - the interaction context
 * @param req - the request (form fields `interaction`, `csrf`, and the cookie)
 * @returns the interaction and client
 * @throws InteractionPageError 403 when the post is not from this browser's page, 400 when the interaction expired
 */
export async function postedInteraction(ctx: InteractionContext, req: Request): Promise<PageInteraction> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const id = body.interaction;
  if (!boundToBrowser(req, id)) throw csrfRejected();
  const found = await load(ctx, id);
  if (!safeEqual(body.csrf, found.interaction.csrf)) throw csrfRejected();
  return found;
}

/**
 * Loads an interaction named by a record of this server (the federated callback's flow), checking that the
 * browser holds its cookie.
 * @param ctx - the interaction context
 * @param req - the request (the cookie)
 * @param id - the interaction id
 * @returns the interaction and client
 * @throws InteractionPageError (400) when it is unknown, expired or not this browser's
 */
export async function interactionOfBrowser(ctx: InteractionContext, req: Request, id: string): Promise<PageInteraction> {
  if (!boundToBrowser(req, id)) throw interactionExpired();
  return load(ctx, id);
}

async function load(ctx: InteractionContext, id: string): Promise<PageInteraction> {
  const interaction = await loadInteraction(ctx.deps.storage.records, ctx.project.key, id);
  if (!interaction) throw interactionExpired();
  const loaded = await loadAuthorizeClient(ctx.deps, ctx.project.key, interaction.request.clientId);
  if (!loaded || loaded.client.status !== 'active') throw untrustedRequest('The application is no longer active.', 'invalid_client');
  return { interaction, client: loaded.client };
}
