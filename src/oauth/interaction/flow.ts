/**
 * The decisions shared by `/authorize`, the login page and the consent page: who is signed in (for this
 * request), whether consent is still needed, and how the request ends — an authorization code, or an error —
 * sent to the client's redirect URI with `state` and `iss` (RFC 6749 §4.1.2, RFC 9207).
 *
 * Signed in means: a live session of this project whose User is active (and has an active Membership when it
 * has any), and — when the request says `prompt=login` or its `max_age` has passed — a sign-in made on this
 * very interaction. Consent is needed unless the client has `consentRequired: false` or the user already
 * allowed every granted scope (remembered consent holds only what the user last allowed: a scope unticked on the
 * consent page is asked for again); `prompt=consent` always asks.
 */
import { projectSettings } from '../settings';
import type { Request, Response } from 'express';
import { issueAuthorizationCode } from '../tokens/authorization-codes';
import type { AuthorizeClient } from './authorize-request';
import { clientRedirectUrl } from './authorize-request';
import { hasConsent } from './consent-store';
import { clearCookie, interactionCookie, readCookie, SESSION_COOKIE, writeCookie } from './cookies';
import { AuthorizeRedirectError, interactionExpired } from './errors';
import type { InteractionContext } from './context';
import { type AuthorizationRequest, consumeInteraction, type Interaction, type InteractionLogin, saveInteractionLogin } from './interaction-store';
import { createSession, deleteSession, loadSession, type Session } from './session-store';
import { activeUser } from './users';
import { linkedPatient } from '../../smart/launch-context';

/** The user a request would be authorized for. */
export interface SignedIn {
  userId: string;
  membershipId?: string;
  email: string;
  name?: string;
  /** Epoch seconds of the authentication. */
  authTime: number;
}

/**
 * The browser's live session in this project, if any.
 * @param ctx - the interaction context
 * @param req - the request (its session cookie)
 * @returns the session
 */
export async function currentSession(ctx: InteractionContext, req: Request): Promise<Session | undefined> {
  const id = readCookie(req, SESSION_COOKIE);
  return id ? loadSession(ctx.deps.storage.records, ctx.project.key, id) : undefined;
}

/**
 * Who the request is authorized for, or undefined when the user must sign in (again).
 * @param ctx - the interaction context
 * @param request - the authorization request
 * @param session - the browser's session
 * @param login - the sign-in made on this interaction, if any
 * @returns the signed-in user
 */
export async function signedInUser(
  ctx: InteractionContext,
  request: AuthorizationRequest,
  session: Session | undefined,
  login?: InteractionLogin,
): Promise<SignedIn | undefined> {
  if (!session) return undefined;
  const freshLogin = login !== undefined && login.userId === session.userId && login.authTime === session.authTime;
  const now = Math.floor(Date.now() / 1000);
  const tooOld = request.maxAge !== undefined && now - session.authTime > request.maxAge;
  if ((request.prompt.includes('login') || tooOld) && !freshLogin) return undefined;
  const active = await activeUser(ctx.deps.storage.resources, ctx.project.key, session.userId);
  if (!active) return undefined;
  return {
    userId: active.user.id,
    ...(active.membershipId !== undefined ? { membershipId: active.membershipId } : {}),
    email: active.user.email,
    ...(active.user.name !== undefined ? { name: active.user.name } : {}),
    authTime: session.authTime,
  };
}

/**
 * The signed-in user of a page of the interaction; when there is none, the browser is sent to the login page.
 * @param ctx - the interaction context
 * @param req - the request
 * @param res - the response
 * @param interaction - the interaction
 * @returns the user, or undefined when the response was sent
 */
export async function requireUser(ctx: InteractionContext, req: Request, res: Response, interaction: Interaction): Promise<SignedIn | undefined> {
  const user = await signedInUser(ctx, interaction.request, await currentSession(ctx, req), interaction.login);
  if (!user) sendRedirect(res, ctx.pageUrl('login', interaction.id));
  return user;
}

/**
 * Whether the user must be asked before the client gets the granted scopes.
 * @param ctx - the interaction context
 * @param client - the client
 * @param request - the authorization request
 * @param userId - the signed-in user
 * @returns true when the consent page must be shown
 */
export async function needsConsent(ctx: InteractionContext, client: AuthorizeClient, request: AuthorizationRequest, userId: string): Promise<boolean> {
  if (request.prompt.includes('consent')) return true;
  // The client's own choice, otherwise the project's default (ProjectSettings.consentRequired).
  const required = client.consentRequired ?? (await projectSettings(ctx.deps.storage.resources, ctx.deps.config, ctx.project.key)).consentRequired;
  if (!required) return false;
  return !(await hasConsent(ctx.deps.storage.records, { project: ctx.project.key, userId, clientId: client.id }, request.scope));
}

/**
 * A 303 redirect that is never cached.
 * @param res - the response
 * @param url - where to
 */
export function sendRedirect(res: Response, url: string): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.redirect(303, url);
}

/**
 * Ends a request with an error redirect (error, error_description, state, iss).
 * @param ctx - the interaction context
 * @param res - the response
 * @param target - the trusted redirect URI and the request's state
 * @param err - the error
 */
export function redirectError(ctx: InteractionContext, res: Response, target: { redirectUri: string; state?: string }, err: AuthorizeRedirectError): void {
  sendRedirect(
    res,
    clientRedirectUrl(target.redirectUri, { error: err.code, error_description: err.description, state: target.state, iss: ctx.project.issuer }),
  );
}

/**
 * Ends a request successfully: issues the authorization code and redirects with code, state and iss.
 * @param ctx - the interaction context
 * @param res - the response
 * @param request - the authorization request (its `scope` is exactly what the code grants)
 * @param user - who authorized it
 */
export async function redirectWithCode(ctx: InteractionContext, res: Response, request: AuthorizationRequest, user: SignedIn): Promise<void> {
  if (request.launchUserId !== undefined && request.launchUserId !== user.userId) {
    return redirectError(ctx, res, request, new AuthorizeRedirectError('access_denied', 'The EHR launch was created by another user'));
  }
  const launch = request.launch ?? (await standaloneContext(ctx, request, user));
  // Never a launch/patient code without a patient (the picker must have run).
  if (request.scope.includes('launch/patient') && typeof launch?.patient !== 'string') {
    return redirectError(ctx, res, request, new AuthorizeRedirectError('access_denied', 'No patient was selected for the launch/patient scope'));
  }
  const code = await issueAuthorizationCode(ctx.deps, {
    project: ctx.project.key,
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    ...(request.redirectUriGiven ? {} : { redirectUriOmitted: true }),
    codeChallenge: request.codeChallenge,
    scope: request.scope,
    userId: user.userId,
    ...(user.membershipId !== undefined ? { membershipId: user.membershipId } : {}),
    ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
    authTime: user.authTime,
    ...(launch !== undefined ? { launch } : {}),
  });
  sendRedirect(res, clientRedirectUrl(request.redirectUri, { code, state: request.state, iss: ctx.project.issuer }));
}

/**
 * Ends an interaction exactly once: consumes it and clears the interaction cookie.
 * @param ctx - the interaction context
 * @param res - the response
 * @param interaction - the interaction
 * @returns false when another request already ended it
 */
export async function endInteraction(ctx: InteractionContext, res: Response, interaction: Interaction): Promise<boolean> {
  clearCookie(res, interactionCookie(interaction.id), ctx.cookies);
  return consumeInteraction(ctx.deps.storage.records, interaction);
}

/**
 * Moves an interaction on: to the login page, to the consent page, or to the client with a code.
 * @param ctx - the interaction context
 * @param res - the response
 * @param interaction - the pending interaction
 * @param client - its client
 * @param session - the browser's session (just created, after a sign-in)
 */
export async function continueInteraction(
  ctx: InteractionContext,
  res: Response,
  interaction: Interaction,
  client: AuthorizeClient,
  session: Session | undefined,
): Promise<void> {
  const user = await signedInUser(ctx, interaction.request, session, interaction.login);
  if (!user) return sendRedirect(res, ctx.pageUrl('login', interaction.id));
  if (await needsPatient(ctx, interaction.request, user)) return sendRedirect(res, ctx.pageUrl('patient-picker', interaction.id));
  if (await needsConsent(ctx, client, interaction.request, user.userId)) return sendRedirect(res, ctx.pageUrl('consent', interaction.id));
  if (!(await endInteraction(ctx, res, interaction))) throw interactionExpired();
  await redirectWithCode(ctx, res, interaction.request, user);
}

/**
 * Whether the user must pick a patient first: a standalone launch (`launch/patient` without EHR context or an
 * earlier choice) by a user whose Membership links no Patient.
 * @param ctx - the interaction context
 * @param request - the authorization request
 * @param user - the signed-in user
 * @returns true when the patient picker must be shown
 */
export async function needsPatient(ctx: InteractionContext, request: AuthorizationRequest, user: SignedIn): Promise<boolean> {
  if (!request.scope.includes('launch/patient') || typeof request.launch?.patient === 'string') return false;
  return (await standaloneContext(ctx, request, user)) === undefined;
}

/**
 * The context of a standalone launch (`launch/patient` without EHR context): the patient the user's Membership
 * links, if it links a Patient.
 * @param ctx - the interaction context
 * @param request - the authorization request
 * @param user - the signed-in user
 * @returns the context, or undefined when none applies
 */
async function standaloneContext(ctx: InteractionContext, request: AuthorizationRequest, user: SignedIn): Promise<Record<string, unknown> | undefined> {
  if (!request.scope.includes('launch/patient')) return undefined;
  const patient = user.membershipId ? await linkedPatient(ctx.deps.storage.resources, ctx.project.key, user.membershipId) : undefined;
  return patient === undefined ? undefined : { source: 'standalone', patient };
}

/**
 * Ends a successful sign-in (password or federated): a new session (new id, so no session fixation; the
 * browser's previous session is deleted), the sign-in recorded on the interaction, and the flow moves on.
 * @param ctx - the interaction context
 * @param req - the request (its previous session cookie)
 * @param res - the response
 * @param page - the interaction and its client
 * @param user - who signed in
 */
export async function completeSignIn(
  ctx: InteractionContext,
  req: Request,
  res: Response,
  page: { interaction: Interaction; client: AuthorizeClient },
  user: { userId: string; membershipId?: string },
): Promise<void> {
  const { deps } = ctx;
  const previous = readCookie(req, SESSION_COOKIE);
  if (previous) await deleteSession(deps.storage.records, ctx.project.key, previous);
  const login = { ...user, authTime: Math.floor(Date.now() / 1000) };
  const session = await createSession(deps.storage.records, { project: ctx.project.key, ...login }, deps.config.sessionLifetimeSeconds);
  writeCookie(res, SESSION_COOKIE, session.id, ctx.cookies, deps.config.sessionLifetimeSeconds);
  const updated = await saveInteractionLogin(deps.storage.records, page.interaction, login);
  await continueInteraction(ctx, res, updated, page.client, session);
}
