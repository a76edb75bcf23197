/**
 * `login`, `logout`, `whoami`.
 * - `login` (default): authorization code + PKCE (S256) with the public client `fhir-smart-cli`: a listener on
 *   `http://127.0.0.1:<port>/cb` (an ephemeral port unless `--port`), the authorization URL opened in the system
 *   browser (or printed with `--no-browser`), the code exchanged at the token endpoint. The redirect URI is
 *   registered without a port (RFC 8252 §7.3).
 * - `login --client-credentials`: a confidential client's token (`--client-id`/`--client-secret` or
 *   `FHIR_SMART_CLIENT_ID`/`FHIR_SMART_CLIENT_SECRET`); the secret is kept in the profile to obtain new tokens.
 * - `logout`: revokes the refresh and access tokens (RFC 7009) and forgets them.
 * - `whoami`: the userinfo claims (user tokens), the client, the granted scopes and the project.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CLI_CLIENT_ID,
  Connection,
  errorText,
  fhirBase,
  type GlobalOptions,
  httpRequest,
  oauthBase,
  resolveTarget,
  sessionFrom,
  type Target,
  tokenRequest,
} from './connection';
import type { CliEnvironment } from './environment';
import { CliError, EXIT_HTTP, usageError } from './errors';
import { note, printJson, println } from './output';
import { type ProfileStore, projectKey, type StoredSession } from './profiles';

/** Scopes a user session asks for unless `--scope` says otherwise. */
export const DEFAULT_USER_SCOPE = 'openid fhirUser profile offline_access user/*.*';

/** Options of `login`. */
export interface LoginOptions {
  clientCredentials?: boolean;
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  browser?: boolean;
  port?: string;
  timeout?: string;
}

function saveSession(store: ProfileStore, target: Target, session: StoredSession): void {
  store.update((file) => {
    const existing = file.profiles[target.profileName];
    const profile = existing && existing.server === target.server ? existing : { server: target.server, tenant: target.tenant, project: target.project, sessions: {} };
    profile.tenant = target.tenant;
    profile.project = target.project;
    profile.sessions[projectKey(target.tenant, target.project)] = session;
    file.profiles[target.profileName] = profile;
    // The first profile becomes the default one; others are used with --profile / FHIR_SMART_PROFILE.
    if (file.current === undefined || file.profiles[file.current] === undefined) file.current = target.profileName;
  });
}

function openBrowser(url: string): boolean {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command as string, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}

const PAGE = (title: string, text: string): string =>
  `<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${text}</p></body></html>`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Waits for the redirect to the loopback listener; resolves with the code. */
function awaitCallback(server: http.Server, state: string, timeoutSeconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CliError(`no answer from the browser within ${timeoutSeconds} s`, EXIT_HTTP)), timeoutSeconds * 1000);
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      if (url.pathname !== '/cb' || req.method !== 'GET') {
        res.statusCode = 404;
        res.end(PAGE('Not found', 'This listener only receives the sign-in answer.'));
        return;
      }
      const params = url.searchParams;
      if (params.get('state') !== state) {
        // Not the answer to this login (a stale tab, or someone else's page): ignored, the login keeps waiting.
        res.statusCode = 400;
        res.end(PAGE('Unexpected answer', 'This answer does not belong to the sign-in in progress.'));
        return;
      }
      clearTimeout(timer);
      const error = params.get('error');
      if (error) {
        const description = params.get('error_description');
        res.end(PAGE('Sign-in failed', escapeHtml(`${error}${description ? `: ${description}` : ''}`)));
        reject(new CliError(`authorization refused: ${error}${description ? `: ${description}` : ''}`, EXIT_HTTP));
        return;
      }
      const code = params.get('code');
      if (!code) {
        res.end(PAGE('Sign-in failed', 'The answer carries no code.'));
        reject(new CliError('the authorization answer carries no code', EXIT_HTTP));
        return;
      }
      res.end(PAGE('Signed in', 'You are signed in to fhir-smart. You can close this window.'));
      resolve(code);
    });
  });
}

async function browserLogin(target: Target, options: LoginOptions): Promise<StoredSession> {
  const clientId = options.clientId ?? CLI_CLIENT_ID;
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--port must be a port number, got '${options.port}'`);
  const timeout = options.timeout === undefined ? 300 : Number(options.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw usageError(`--timeout must be a number of seconds, got '${options.timeout}'`);
  const server = http.createServer();
  server.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err) => reject(usageError(`cannot listen on 127.0.0.1:${port}: ${err.message}`)));
  });
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`;
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: options.scope ?? DEFAULT_USER_SCOPE,
      aud: fhirBase(target),
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const url = `${oauthBase(target)}/authorize?${query.toString()}`;
    const callback = awaitCallback(server, state, timeout);
    if (options.browser === false) {
      note(`Open this URL in a browser to sign in to ${target.tenant}/${target.project}:`);
      note(url);
    } else {
      note(`Opening the browser to sign in to ${target.tenant}/${target.project}. If it does not open, visit:`);
      note(url);
      openBrowser(url);
    }
    const code = await callback;
    const answer = await tokenRequest(target, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId });
    return sessionFrom(answer, { grant: 'authorization_code', clientId });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/**
 * `login`.
 * @param options - the command's options
 * @param globals - the global options
 * @param env - the environment
 * @param store - the profiles
 */
export async function login(options: LoginOptions, globals: GlobalOptions, env: CliEnvironment, store: ProfileStore): Promise<void> {
  const target = resolveTarget(globals, env, store, true);
  let session: StoredSession;
  if (options.clientCredentials) {
    const clientId = options.clientId ?? env.clientId;
    const secret = options.clientSecret ?? env.clientSecret;
    if (!clientId || !secret) throw usageError('--client-credentials needs --client-id and --client-secret (or FHIR_SMART_CLIENT_ID and FHIR_SMART_CLIENT_SECRET)');
    const form: Record<string, string> = { grant_type: 'client_credentials' };
    if (options.scope) form.scope = options.scope;
    const answer = await tokenRequest(target, form, { clientId, secret });
    session = sessionFrom(answer, { grant: 'client_credentials', clientId, clientSecret: secret });
  } else {
    session = await browserLogin(target, options);
  }
  saveSession(store, target, session);
  const who = await describeSession(new Connection({ ...target, profile: store.read().profiles[target.profileName] }, store));
  note(`Logged in to ${target.server} ${target.tenant}/${target.project} as ${who.subject} (profile '${target.profileName}', scopes: ${session.scope ?? '?'})`);
}

/** What a token says about its holder (its payload is read, not verified: the server verifies it on every use). */
function tokenClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) return {};
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

interface Description {
  subject: string;
  [key: string]: unknown;
}

async function describeSession(connection: Connection): Promise<Description> {
  await connection.ensureFresh();
  const claims = tokenClaims(connection.accessToken);
  const scope = typeof claims.scope === 'string' ? claims.scope : (connection.storedSession?.scope ?? '');
  const description: Description = {
    subject: String(claims.sub ?? connection.storedSession?.clientId ?? 'unknown'),
    server: connection.target.server,
    tenant: connection.target.tenant,
    project: connection.target.project,
    profile: connection.target.profileName,
    client: claims.client_id ?? connection.storedSession?.clientId,
    scopes: scope.split(' ').filter((s) => s !== ''),
  };
  if (typeof claims.exp === 'number') description.expiresAt = new Date(claims.exp * 1000).toISOString();
  if (scope.split(' ').includes('openid')) {
    const info = await connection.request('GET', `${connection.oauthBase}/userinfo`, { headers: { Accept: 'application/json' } });
    if (info.status !== 200) throw new CliError(`userinfo refused: HTTP ${info.status}: ${errorText(info)}`, EXIT_HTTP);
    const user = info.body as Record<string, unknown>;
    description.user = user;
    description.subject = String(user.email ?? user.sub ?? description.subject);
  }
  return description;
}

/**
 * `whoami`.
 * @param options - `--json`
 * @param connection - the connection
 */
export async function whoami(options: { json?: boolean }, connection: Connection): Promise<void> {
  const description = await describeSession(connection);
  if (options.json) {
    printJson(description);
    return;
  }
  const user = description.user as Record<string, unknown> | undefined;
  println(`Logged in to ${String(description.server)} as ${description.subject}`);
  println(`  project:  ${String(description.tenant)}/${String(description.project)} (profile '${String(description.profile)}')`);
  if (user) {
    if (user.name) println(`  name:     ${String(user.name)}`);
    if (user.fhirUser) println(`  fhirUser: ${String(user.fhirUser)}`);
    println(`  user:     ${String(user.sub)}`);
  }
  println(`  client:   ${String(description.client ?? '?')}`);
  println(`  scopes:   ${(description.scopes as string[]).join(' ')}`);
  if (description.expiresAt) println(`  expires:  ${String(description.expiresAt)}`);
}

/**
 * `logout`: revokes the session's tokens and forgets them.
 * @param globals - the global options
 * @param env - the environment
 * @param store - the profiles
 */
export async function logout(globals: GlobalOptions, env: CliEnvironment, store: ProfileStore): Promise<void> {
  const target = resolveTarget(globals, env, store);
  const key = projectKey(target.tenant, target.project);
  const session = target.profile?.sessions[key];
  if (!session) throw usageError(`not logged in to ${target.tenant}/${target.project} (profile '${target.profileName}')`);
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const base: Record<string, string> = {};
  if (session.clientSecret) headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(session.clientId)}:${encodeURIComponent(session.clientSecret)}`).toString('base64')}`;
  else base.client_id = session.clientId;
  const tokens: Array<[string, string]> = [];
  if (session.refreshToken) tokens.push([session.refreshToken, 'refresh_token']);
  tokens.push([session.accessToken, 'access_token']);
  let failure: string | undefined;
  for (const [token, hint] of tokens) {
    const result = await httpRequest(`${oauthBase(target)}/revoke`, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ ...base, token, token_type_hint: hint }).toString(),
    });
    if (result.status !== 200) failure = `HTTP ${result.status}: ${errorText(result)}`;
  }
  store.update((file) => {
    const profile = file.profiles[target.profileName];
    if (profile) delete profile.sessions[key];
  });
  if (failure) throw new CliError(`the tokens were forgotten, but the server refused to revoke them: ${failure}`, EXIT_HTTP);
  note(`Logged out of ${target.server} ${target.tenant}/${target.project} (profile '${target.profileName}'): tokens revoked`);
}
