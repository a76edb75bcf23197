/**
 * Sign-in through the server's own OAuth authorization server: authorization code + PKCE (S256) with the public
 * client `admin-app`. Tokens live in memory only (this module's variables): a reload signs in again through
 * `/authorize`, which the server's sign-in session cookie usually answers without a form. Only the PKCE verifier,
 * the state and the path to return to survive the redirect, in sessionStorage, and are removed at the callback.
 * The access token is refreshed with the refresh token shortly before it expires (and once after a 401);
 * sign-out revokes the refresh token (which revokes the whole grant) and ends the server's sign-in session.
 */

/** What /admin/config.json says. */
export interface AppConfig {
  tenant: string;
  project: string;
  clientId: string;
  redirectUri: string;
  /** The absolute FHIR base (`aud` of the authorization request). */
  fhirUrl: string;
}

/** The tokens of the signed-in user. */
export interface Session {
  accessToken: string;
  refreshToken?: string;
  expiresAt: number;
  scope: string;
  /** Claims of the id token (not verified here: the browser got it straight from the token endpoint over TLS). */
  idClaims: Record<string, unknown>;
}

const PENDING_KEY = 'admin-app.pending';
export const SCOPE = 'openid fhirUser offline_access user/*.*';

/**
 * The configuration for another project of the same server: same client id and redirect URI, its own FHIR base.
 * @param defaults - from config.json (the bootstrap project)
 * @param project - the project, or undefined for the bootstrap project
 * @returns the configuration
 */
export function forProject(defaults: AppConfig, project: { tenant: string; project: string } | undefined): AppConfig {
  if (!project || (project.tenant === defaults.tenant && project.project === defaults.project)) return defaults;
  const origin = defaults.fhirUrl.slice(0, defaults.fhirUrl.indexOf('/w/'));
  return { ...defaults, tenant: project.tenant, project: project.project, fhirUrl: `${origin}${fhirBase(project)}` };
}

/** The OAuth base of a project (relative to this origin). */
export function oauthBase(config: Pick<AppConfig, 'tenant' | 'project'>): string {
  return `/w/${encodeURIComponent(config.tenant)}/${encodeURIComponent(config.project)}/api/v1/oauth`;
}

/** The FHIR base of a project (relative to this origin). */
export function fhirBase(config: Pick<AppConfig, 'tenant' | 'project'>): string {
  return `/w/${encodeURIComponent(config.tenant)}/${encodeURIComponent(config.project)}/api/v1/fhir/r4`;
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * The S256 challenge of a verifier (RFC 7636 §4.2).
 * @param verifier - the code verifier
 * @returns its challenge
 */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/**
 * Sends the browser to the authorization endpoint.
 * @param config - the app configuration
 * @param returnTo - the app path to open after signing in
 */
export async function startSignIn(config: AppConfig, returnTo: string): Promise<void> {
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo, tenant: config.tenant, project: config.project }));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: SCOPE,
    aud: config.fhirUrl,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
  });
  window.location.assign(`${oauthBase(config)}/authorize?${query}`);
}

/** An OAuth error answer, readable. */
export class SignInError extends Error {}

function decodeClaims(idToken: unknown): Record<string, unknown> {
  if (typeof idToken !== 'string') return {};
  try {
    const payload = idToken.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(decodeURIComponent(escape(json))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function tokenRequest(config: AppConfig, form: Record<string, string>): Promise<Session> {
  const res = await fetch(`${oauthBase(config)}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok || typeof body.access_token !== 'string') {
    throw new SignInError(`${String(body.error ?? res.status)}: ${String(body.error_description ?? 'the token request failed')}`);
  }
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
    expiresAt: Date.now() + Number(body.expires_in ?? 300) * 1000,
    scope: String(body.scope ?? ''),
    idClaims: decodeClaims(body.id_token),
  };
}

/**
 * Finishes the sign-in at `/admin/callback`: checks the state, redeems the code.
 * @param config - the app configuration
 * @param search - the callback's query string
 * @returns the session and the path to return to
 */
export async function completeSignIn(defaults: AppConfig, search: string): Promise<{ session: Session; returnTo: string; config: AppConfig }> {
  const params = new URLSearchParams(search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as { verifier: string; state: string; returnTo: string; tenant: string; project: string } | null;
  sessionStorage.removeItem(PENDING_KEY);
  if (params.get('error')) throw new SignInError(`${params.get('error')}: ${params.get('error_description') ?? ''}`);
  if (!pending || params.get('state') !== pending.state) throw new SignInError('The sign-in answer does not match a sign-in started here (state). Sign in again.');
  // The project the sign-in was started for (its token endpoint redeems the code).
  const config = forProject(defaults, pending);
  const code = params.get('code');
  if (!code) throw new SignInError('The sign-in answer has no code.');
  const session = await tokenRequest(config, {
    grant_type: 'authorization_code',
    code,
    code_verifier: pending.verifier,
    redirect_uri: config.redirectUri,
    client_id: config.clientId,
  });
  const returnTo = pending.returnTo.startsWith('/admin/') && !pending.returnTo.startsWith('/admin/callback') ? pending.returnTo : '/admin/';
  return { session, returnTo, config };
}

/**
 * Uses the refresh token.
 * @param config - the app configuration
 * @param session - the current session
 * @returns the new session
 */
export async function refresh(config: AppConfig, session: Session): Promise<Session> {
  if (!session.refreshToken) throw new SignInError('No refresh token');
  const next = await tokenRequest(config, { grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: config.clientId });
  return { ...next, idClaims: Object.keys(next.idClaims).length ? next.idClaims : session.idClaims };
}

/**
 * Revokes the grant (through the refresh token, else the access token) and ends the server's sign-in session.
 * @param config - the app configuration
 * @param session - the session to end
 */
export async function signOut(config: AppConfig, session: Session): Promise<void> {
  await fetch(`${oauthBase(config)}/revoke`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: session.refreshToken ?? session.accessToken, client_id: config.clientId }),
  }).catch(() => undefined);
}
