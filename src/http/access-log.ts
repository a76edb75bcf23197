/**
 * The fields of the access-log line (one per request, written by `request-context.ts` when the response is done):
 * - `path`: the request's path as the client sent it, always from the leading `/` (an absolute-form request
 *   target is reduced to its path), with the query string kept but the values of credential-bearing parameters
 *   replaced by `[redacted]` (see {@link REDACTED_PARAMETERS}); one field, the same shape on every line;
 * - `tenant`, `project`: read from the path (`/w/{tenant}/{project}/…` and the RFC 8414 discovery form
 *   `/.well-known/openid-configuration/w/{tenant}/{project}`), present only on project paths;
 * - `clientId`, `userId`: the caller, once a bearer token or client authentication established it;
 * - `ip`: the client address as Express derives it under TRUST_PROXY (`X-Forwarded-For` only from trusted proxies).
 */
import type { IncomingMessage } from 'node:http';

/**
 * Query parameters whose values are credentials, or bind a flow to its caller, and never reach a log line.
 * Matched on the decoded, lower-cased name up to the first character that cannot be part of a plain name, so
 * `Code`, `%63ode`, `code:not` and `client_secret[]` are redacted as well. (FHIR's own `code` search parameter
 * is redacted too: a search's terms can be clinical data.)
 */
export const REDACTED_PARAMETERS: ReadonlySet<string> = new Set([
  'code',
  'state',
  'refresh_token',
  'access_token',
  'id_token',
  'id_token_hint',
  'token',
  'client_secret',
  'client_assertion',
  'assertion',
  'code_verifier',
  'password',
  'launch',
]);

/** What replaces a redacted value. */
export const REDACTED = '[redacted]';

/** Longest path logged; the rest is cut (Node's header limit keeps the request target under ~16 KiB anyway). */
const MAX_PATH_LENGTH = 2048;

const PROJECT_PATH = /^\/w\/([^/?]+)\/([^/?]+)(?:[/?]|$)/;
const DISCOVERY_PATH = /^\/\.well-known\/[^/?]+\/w\/([^/?]+)\/([^/?]+)(?:[/?]|$)/;

function decode(raw: string, plusIsSpace = true): string {
  try {
    return decodeURIComponent(plusIsSpace ? raw.replace(/\+/g, ' ') : raw);
  } catch {
    return raw;
  }
}

function isRedacted(rawName: string): boolean {
  const name = decode(rawName).toLowerCase();
  const plain = /^[a-z0-9_-]*/.exec(name)?.[0] ?? '';
  return REDACTED_PARAMETERS.has(plain);
}

/**
 * A query string with the values of {@link REDACTED_PARAMETERS} replaced; names and the other values stay as sent.
 * @param query - the raw query string, without `?`
 * @returns the query string to log
 */
export function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      if (!isRedacted(name)) return pair;
      return eq < 0 ? pair : `${name}=${REDACTED}`;
    })
    .join('&');
}

/**
 * The path to log for a raw request target (`req.url` as received).
 * @param target - the request target: origin-form `/p?q`, or absolute-form `http://host/p?q`
 * @returns the path from `/`, with its query redacted
 */
export function loggedPath(target: string): string {
  let raw = target;
  if (!raw.startsWith('/')) {
    try {
      const url = new URL(raw);
      raw = url.pathname + url.search;
    } catch {
      raw = `/${raw}`;
    }
  }
  const q = raw.indexOf('?');
  const logged = q < 0 ? raw : `${raw.slice(0, q)}?${redactQuery(raw.slice(q + 1))}`;
  return logged.length > MAX_PATH_LENGTH ? `${logged.slice(0, MAX_PATH_LENGTH)}…` : logged;
}

/**
 * The tenant and project a path addresses, when it is a project path.
 * @param path - the logged path
 * @returns the tenant and project slugs (as sent), or nothing
 */
export function projectOfPath(path: string): { tenant: string; project: string } | undefined {
  const match = PROJECT_PATH.exec(path) ?? DISCOVERY_PATH.exec(path);
  if (!match) return undefined;
  return { tenant: decode(match[1] as string, false), project: decode(match[2] as string, false) };
}

/** The request target as received (`originalUrl` survives Express's rewriting of `url` inside routers). */
export function requestTarget(req: IncomingMessage & { originalUrl?: string }): string {
  return req.originalUrl ?? req.url ?? '/';
}
