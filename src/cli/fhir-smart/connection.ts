/**
 * What every command talks to: the server, tenant and project chosen by the global options, the environment and the
 * profile (in that order), and a bearer token that is refreshed before it expires and once more on a 401.
 * A token given with `--token` or `FHIR_SMART_TOKEN` is used as is.
 */
import http from 'node:http';
import https from 'node:https';
import { CliError, EXIT_HTTP, EXIT_NETWORK, usageError } from './errors';
import type { CliEnvironment } from './environment';
import { type Profile, ProfileStore, projectKey, type StoredSession } from './profiles';

/** The global options. */
export interface GlobalOptions {
  profile?: string;
  server?: string;
  tenant?: string;
  project?: string;
  token?: string;
}

/** The default server when nothing names one. */
export const DEFAULT_SERVER = 'http://localhost:3000';
/** A token this close to its expiry (seconds) is refreshed before use. */
const REFRESH_MARGIN_SECONDS = 30;
/** The public client of the CLI (seed/bootstrap.json). */
export const CLI_CLIENT_ID = 'fhir-smart-cli';

/** An HTTP answer. */
export interface HttpResult {
  status: number;
  statusText: string;
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  /** Parsed JSON, or the text when it is not JSON, or undefined when empty. */
  body: unknown;
}

/** Where the command is pointed. */
export interface Target {
  profileName: string;
  profile?: Profile;
  server: string;
  tenant: string;
  project: string;
}

/**
 * Strips a trailing slash and checks a server origin.
 * @param server - what the user gave
 * @returns the origin (with any path prefix kept)
 */
export function normalizeServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw usageError(`--server must be a URL such as http://localhost:3000, got '${server}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--server must be an http(s) URL, got '${server}'`);
  return url.href.replace(/\/+$/, '');
}

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Checks a tenant or project slug. */
export function checkSlug(value: string, what: string): string {
  if (!SLUG.test(value)) throw usageError(`${what} must be a slug (lowercase letters, digits, '-'), got '${value}'`);
  return value;
}

/**
 * Resolves the target of a command.
 * @param options - the global options
 * @param env - the environment
 * @param store - the profiles
 * @returns the profile (if any) and the server, tenant and project
 */
export function resolveTarget(options: GlobalOptions, env: CliEnvironment, store: ProfileStore, allowNew = false): Target {
  const file = store.read();
  const profileName = options.profile ?? env.profile ?? file.current ?? 'default';
  const profile = file.profiles[profileName];
  if (!allowNew && options.profile !== undefined && !profile && options.server === undefined && env.server === undefined) {
    throw usageError(`no profile '${profileName}' in ${store.file}: log in with --profile ${profileName} first`);
  }
  return {
    profileName,
    profile,
    server: normalizeServer(options.server ?? env.server ?? profile?.server ?? DEFAULT_SERVER),
    tenant: checkSlug(options.tenant ?? env.tenant ?? profile?.tenant ?? 'default', 'tenant'),
    project: checkSlug(options.project ?? env.project ?? profile?.project ?? 'default', 'project'),
  };
}

/** A request of {@link httpRequest}. */
export interface HttpRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTP exchange (Node's http/https: a command starts faster without loading fetch's engine), redirects not
 * followed, with network failures turned into exit code 3.
 * @param url - the URL
 * @param init - the request
 * @returns the answer, body parsed
 */
export async function httpRequest(url: string, init: HttpRequestInit): Promise<HttpResult> {
  let res: { status: number; statusText: string; headers: Record<string, string> };
  let text: string;
  try {
    ({ text, ...res } = await exchange(new URL(url), init));
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    throw new CliError(`cannot reach ${new URL(url).origin}: ${error.code ?? error.message}`, EXIT_NETWORK);
  }
  let body: unknown = text === '' ? undefined : text;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
  }
  return { status: res.status, statusText: res.statusText, headers: res.headers, body };
}

function exchange(url: URL, init: HttpRequestInit): Promise<{ status: number; statusText: string; headers: Record<string, string>; text: string }> {
  const client = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body));
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: init.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const flat: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: flat, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * The text of an error answer: an OperationOutcome's issues, an OAuth `error_description`, or the status line.
 * @param result - the answer
 * @returns one line
 */
export function errorText(result: HttpResult): string {
  const body = result.body as Record<string, unknown> | undefined;
  if (body && body.resourceType === 'OperationOutcome' && Array.isArray(body.issue)) {
    const texts = (body.issue as Array<Record<string, unknown>>).map((issue) => {
      const details = (issue.details as { text?: string } | undefined)?.text;
      const text = (issue.diagnostics as string | undefined) ?? details ?? String(issue.code ?? 'error');
      const where = Array.isArray(issue.expression) && issue.expression.length > 0 ? ` (${issue.expression.join(', ')})` : '';
      return `${text}${where}`;
    });
    if (texts.length > 0) return texts.join('; ');
  }
  if (body && typeof body.error === 'string') return typeof body.error_description === 'string' ? `${body.error}: ${body.error_description}` : body.error;
  if (typeof result.body === 'string' && result.body.length < 300) return result.body.trim();
  return result.statusText || 'request failed';
}

/**
 * Throws exit code 1 for an HTTP error answer.
 * @param result - the answer
 * @returns the answer when it is a success
 */
export function ensureOk(result: HttpResult): HttpResult {
  if (result.status >= 400) throw new CliError(`HTTP ${result.status}: ${errorText(result)}`, EXIT_HTTP);
  return result;
}

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The OAuth base of a project. */
export function oauthBase(target: Pick<Target, 'server' | 'tenant' | 'project'>): string {
  return `${target.server}/w/${target.tenant}/${target.project}/api/v1/oauth`;
}

/** The FHIR base of a project. */
export function fhirBase(target: Pick<Target, 'server' | 'tenant' | 'project'>): string {
  return `${target.server}/w/${target.tenant}/${target.project}/api/v1/fhir/r4`;
}

/** A token endpoint answer. */
export interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
  id_token?: string;
}

/**
 * POSTs to a token endpoint.
 * @param target - the project
 * @param form - the form
 * @param credentials - client id and secret for client_secret_basic (public clients put client_id in the form)
 * @returns the tokens
 */
export async function tokenRequest(target: Pick<Target, 'server' | 'tenant' | 'project'>, form: Record<string, string>, credentials?: { clientId: string; secret: string }): Promise<TokenAnswer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  if (credentials) headers.Authorization = basic(credentials.clientId, credentials.secret);
  const result = await httpRequest(`${oauthBase(target)}/token`, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  if (result.status !== 200) throw new CliError(`token request refused: HTTP ${result.status}: ${errorText(result)}`, EXIT_HTTP);
  return result.body as TokenAnswer;
}

/**
 * A session from a token answer.
 * @param answer - the token answer
 * @param base - grant, client and (client_credentials) secret
 * @returns what is stored
 */
export function sessionFrom(answer: TokenAnswer, base: Pick<StoredSession, 'grant' | 'clientId' | 'clientSecret'>): StoredSession {
  const session: StoredSession = { ...base, accessToken: answer.access_token };
  if (answer.refresh_token) session.refreshToken = answer.refresh_token;
  if (typeof answer.expires_in === 'number') session.expiresAt = Math.floor(Date.now() / 1000) + answer.expires_in;
  if (answer.scope !== undefined) session.scope = answer.scope;
  return session;
}

/** Options of one FHIR request. */
export interface FhirRequestOptions {
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

/** An authenticated connection to one project. */
export class Connection {
  readonly fhirBase: string;
  readonly oauthBase: string;
  private session?: StoredSession;
  private readonly staticToken?: string;

  constructor(
    readonly target: Target,
    private readonly store: ProfileStore,
    token?: string,
  ) {
    this.fhirBase = fhirBase(target);
    this.oauthBase = oauthBase(target);
    this.staticToken = token;
    if (!token) {
      this.session = target.profile?.sessions[projectKey(target.tenant, target.project)];
      if (!this.session) {
        throw usageError(
          `not logged in to ${target.server} ${target.tenant}/${target.project} (profile '${target.profileName}'): run fhir-smart login, or give --token / FHIR_SMART_TOKEN`,
        );
      }
    }
  }

  /** The access token in use. */
  get accessToken(): string {
    return this.staticToken ?? (this.session as StoredSession).accessToken;
  }

  /** The stored session (undefined with a static token). */
  get storedSession(): StoredSession | undefined {
    return this.session;
  }

  private expiresSoon(): boolean {
    const at = this.session?.expiresAt;
    return at !== undefined && Date.now() / 1000 > at - REFRESH_MARGIN_SECONDS;
  }

  /** Refreshes the token when it is about to expire. */
  async ensureFresh(): Promise<void> {
    if (this.expiresSoon()) await this.refresh();
  }

  /** Obtains a new access token (refresh token, or client_credentials again) and stores it. */
  async refresh(): Promise<void> {
    if (!this.session) return;
    // Refresh tokens rotate and a reused one revokes the whole grant: two commands refreshing at once (a script
    // running several in parallel) must not both spend the same one. One refresh at a time per profiles file; a
    // command that waited takes the tokens the other one stored.
    await this.store.withLock(async () => {
      const { profileName, tenant, project } = this.target;
      const stored = this.store.read().profiles[profileName]?.sessions[projectKey(tenant, project)];
      if (stored && stored.accessToken !== this.session?.accessToken && stored.refreshToken !== this.session?.refreshToken) {
        this.session = stored;
        return;
      }
      await this.refreshNow();
    });
  }

  private async refreshNow(): Promise<void> {
    const session = this.session as StoredSession;
    let answer: TokenAnswer;
    if (session.grant === 'client_credentials' && session.clientSecret) {
      const form: Record<string, string> = { grant_type: 'client_credentials' };
      if (session.scope) form.scope = session.scope;
      answer = await tokenRequest(this.target, form, { clientId: session.clientId, secret: session.clientSecret });
    } else if (session.refreshToken) {
      try {
        answer = await tokenRequest(this.target, { grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: session.clientId });
      } catch (err) {
        if (err instanceof CliError && err.exitCode === EXIT_HTTP) throw new CliError(`the session has ended (${err.message}): run fhir-smart login`, EXIT_HTTP);
        throw err;
      }
    } else {
      throw new CliError('the access token has expired and there is no refresh token: run fhir-smart login', EXIT_HTTP);
    }
    const next = sessionFrom(answer, { grant: session.grant, clientId: session.clientId, clientSecret: session.clientSecret });
    // A refresh answer without a new refresh token keeps the old one.
    if (!next.refreshToken && session.refreshToken && session.grant === 'authorization_code') next.refreshToken = session.refreshToken;
    this.session = next;
    const { profileName, tenant, project } = this.target;
    this.store.update((file) => {
      const profile = file.profiles[profileName];
      if (profile) profile.sessions[projectKey(tenant, project)] = next;
    });
  }

  /**
   * A request with the bearer token: refreshed first when it is about to expire, and once more after a 401.
   * @param method - HTTP method
   * @param url - absolute, or relative to the FHIR base
   * @param options - body and headers
   * @returns the answer (errors are not thrown)
   */
  async request(method: string, url: string, options: FhirRequestOptions = {}): Promise<HttpResult> {
    const relative = url.replace(/^\/+/, '');
    const absolute = /^https?:/.test(url) ? url : relative === '' || relative.startsWith('?') ? `${this.fhirBase}${relative}` : `${this.fhirBase}/${relative}`;
    // Links the server hands out (`next`) are followed, but the token never goes to another origin.
    if (new URL(absolute).origin !== new URL(this.target.server).origin) {
      throw new CliError(`refusing to send the access token to ${new URL(absolute).origin} (the server is ${new URL(this.target.server).origin}); check PUBLIC_URL`, EXIT_HTTP);
    }
    await this.ensureFresh();
    const send = (): Promise<HttpResult> => {
      const headers: Record<string, string> = { Accept: 'application/fhir+json', Authorization: `Bearer ${this.accessToken}`, ...options.headers };
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['Content-Type'] = options.contentType ?? 'application/fhir+json';
      }
      return httpRequest(absolute, { method, headers, body });
    };
    let result = await send();
    if (result.status === 401 && this.session) {
      await this.refresh();
      result = await send();
    }
    return result;
  }

  /** {@link request}, throwing exit code 1 on an HTTP error. */
  async fhir(method: string, url: string, options: FhirRequestOptions = {}): Promise<HttpResult> {
    return ensureOk(await this.request(method, url, options));
  }
}
