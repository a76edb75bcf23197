/**
 * Test helpers for the authorization endpoint and the interaction pages: a cookie-keeping "browser" over
 * supertest (it sends Secure cookies too, as a browser on the https PUBLIC_URL would), form scraping, PKCE,
 * and fixtures (clients, users, memberships) written through the FHIR repository.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request, { type Response } from 'supertest';
import { FhirRepository, type Resource } from '../../src/fhir/repository/repository';
import type { TestApp } from '../helpers/build-test-app';

/** The OAuth base path of the bootstrap project. */
export const OAUTH = '/w/default/default/api/v1/oauth';
/** Its issuer (PUBLIC_URL of the test app + project path). */
export const ISSUER = 'https://fhir.example.test/w/default/default';
/** The FHIR base of the bootstrap project: the `aud` of authorization requests. */
export const FHIR_BASE = `${ISSUER}/api/v1/fhir/r4`;
/** The bootstrap owner's credentials in tests. */
export const OWNER = { email: 'admin@example.com', password: 'correct horse battery staple' };
export const REDIRECT = 'https://app.example/callback';

/** A cookie jar over supertest. */
export class Browser {
  readonly cookies = new Map<string, { value: string; attributes: string }>();
  /** Whoever the test signed in as (bookkeeping for tests). */
  user?: { email: string; password: string };

  constructor(private readonly app: Express) {}

  /** The Cookie header this browser would send. */
  cookieHeader(): string {
    return [...this.cookies].map(([name, c]) => `${name}=${c.value}`).join('; ');
  }

  private keep(res: Response): Response {
    const setCookie = res.headers['set-cookie'] as unknown as string[] | undefined;
    for (const line of setCookie ?? []) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, attributes: attrs.join(';').trim() });
    }
    return res;
  }

  /** GET a path (relative to the app). */
  async get(path: string): Promise<Response> {
    const req = request(this.app).get(path);
    if (this.cookies.size > 0) req.set('Cookie', this.cookieHeader());
    return this.keep(await req);
  }

  /** POST a url-encoded form (an array value is sent as repeated fields, as a browser sends ticked checkboxes). */
  async post(path: string, fields: Record<string, string | string[] | undefined>): Promise<Response> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const value of v === undefined ? [] : [v].flat()) body.append(k, value);
    const req = request(this.app).post(path).type('form');
    if (this.cookies.size > 0) req.set('Cookie', this.cookieHeader());
    return this.keep(await req.send(body.toString()));
  }

  /** Follows a Location header that points back at this server (path only). */
  async follow(res: Response): Promise<Response> {
    const location = String(res.headers.location);
    if (!location.startsWith('/')) throw new Error(`not a local redirect: ${location}`);
    return this.get(location);
  }
}

/** The fields a form submits: one value, or several for a name repeated (ticked checkboxes). */
export type FormFields = Record<string, string | string[]>;

function attribute(tag: string, name: string): string | undefined {
  const value = new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
  return value === undefined ? undefined : decodeEntities(value);
}

function hasFlag(tag: string, name: string): boolean {
  return new RegExp(`\\s${name}(?=[\\s>])`).test(tag);
}

/**
 * What the first form on a page submits as a browser would: its hidden fields and its ticked, enabled
 * checkboxes (named; a repeated name gives an array), and its action.
 */
export function scrapeForm(htmlText: string): { action: string; fields: FormFields } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(htmlText);
  if (!form) throw new Error('no form on the page');
  const fields: FormFields = {};
  for (const [input] of (form[2] ?? '').matchAll(/<input[^>]*>/g)) {
    const type = attribute(input, 'type');
    const name = attribute(input, 'name');
    const submitted = type === 'hidden' || (type === 'checkbox' && hasFlag(input, 'checked') && !hasFlag(input, 'disabled'));
    if (!name || !submitted) continue;
    const value = attribute(input, 'value') ?? (type === 'checkbox' ? 'on' : '');
    const before = fields[name];
    fields[name] = before === undefined ? value : [before, value].flat();
  }
  return { action: decodeEntities(form[1] ?? ''), fields };
}

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** A PKCE pair (S256). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The query parameters of a redirect to the client. */
export function redirectParams(res: Response, redirectUri = REDIRECT): Record<string, string> {
  const location = String(res.headers.location ?? '');
  if (!location.startsWith(`${redirectUri}?`)) throw new Error(`expected a redirect to ${redirectUri}, got ${res.status} ${location}`);
  return Object.fromEntries(new URL(location).searchParams);
}

/** Writes resources into the bootstrap project. */
export function repo(t: TestApp): FhirRepository {
  return new FhirRepository(t.storage.resources, t.boot.project.key);
}

/** Registers a public authorization-code client (or replaces it). */
export async function putClient(t: TestApp, id: string, fields: Record<string, unknown> = {}): Promise<void> {
  await repo(t).update('ClientApplication', id, {
    resourceType: 'ClientApplication',
    id,
    name: `App ${id}`,
    status: 'active',
    grantType: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'none',
    redirectUri: [REDIRECT],
    scope: 'openid fhirUser offline_access patient/Observation.rs patient/Patient.rs user/*.*',
    ...fields,
  } as Resource);
}

/** Creates a member User (with a Membership) and returns its credentials. */
export async function putUser(t: TestApp, id: string, fields: Record<string, unknown> = {}, membership: Record<string, unknown> = {}): Promise<{ email: string; password: string }> {
  const email = `${id}@example.org`;
  const password = `password of ${id}`;
  await repo(t).update('User', id, { resourceType: 'User', id, email, role: 'member', active: true, password, ...fields } as Resource);
  await repo(t).update('Membership', id, { resourceType: 'Membership', id, user: { reference: `User/${id}` }, active: true, ...membership } as Resource);
  return { email, password };
}

/** Authorization request parameters with sensible defaults. */
export function authorizeQuery(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.append(k, v);
  return `${OAUTH}/authorize?${query.toString()}`;
}

/** Default parameters of a valid request from client `app` (a SMART request: resource scopes and `aud`). */
export function validParams(challenge: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    response_type: 'code',
    client_id: 'app',
    redirect_uri: REDIRECT,
    scope: 'openid patient/Observation.rs',
    aud: FHIR_BASE,
    state: 'st-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** Submits the login form shown at `res` (following to it if `res` is a redirect). */
export async function submitLogin(browser: Browser, res: Response, credentials: { email: string; password: string }): Promise<Response> {
  const page = res.status === 303 ? await browser.follow(res) : res;
  const { action, fields } = scrapeForm(page.text);
  return browser.post(action, { ...fields, email: credentials.email, password: credentials.password });
}

/**
 * Submits the consent form shown at `res` (following to it if `res` is a redirect) with every box as the page
 * ticked it, or — with `untick` — with those resource scopes unticked.
 */
export async function submitConsent(browser: Browser, res: Response, decision: 'allow' | 'deny', untick: string[] = []): Promise<Response> {
  const page = res.status === 303 ? await browser.follow(res) : res;
  const { action, fields } = scrapeForm(page.text);
  const scope = [fields.scope ?? []].flat().filter((s) => !untick.includes(s));
  return browser.post(action, { ...fields, scope, decision });
}
