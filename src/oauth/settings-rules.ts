/**
 * The rules of the `ProjectSettings` resource (docs/projects.md "Project settings"), checked on every write of
 * one; every refusal is a 400 naming the element:
 * - one per project, with the fixed id `settings`;
 * - access, backend and ID token lifetimes at most 86400 s (the longest lifetime the bearer check accepts,
 *   MAX_SIGNED_LIFETIME); refresh token lifetime at most 365 days;
 * - `smartStyleUrl` an absolute http(s) URL once `{issuer}`, `{tenant}` and `{project}` are filled in;
 * - each `allowedOrigin` an origin exactly (`scheme://host[:port]`, http or https, no path, no trailing slash);
 * - `loginRateLimit` from 1 to 10000 failed sign-ins per minute.
 */
import { BadRequestError } from '../fhir/errors';

/** The fixed id of a project's settings. */
export const SETTINGS_ID = 'settings';
/** Longest access/ID token lifetime (s): tokens living longer are refused by the bearer check. */
const MAX_TOKEN_LIFETIME = 24 * 3600;
const MAX_REFRESH_LIFETIME = 365 * 24 * 3600;
const MAX_LOGIN_RATE_LIMIT = 10_000;

function bad(element: string, message: string): BadRequestError {
  return new BadRequestError(`ProjectSettings.${element} ${message}`, [`ProjectSettings.${element}`]);
}

/**
 * Throws a 400 naming the element when a ProjectSettings resource breaks a rule.
 * @param resource - the schema-valid resource about to be stored
 */
export function assertValidProjectSettings(resource: Record<string, unknown>): void {
  if (resource.id !== SETTINGS_ID) throw bad('id', `must be '${SETTINGS_ID}': a project has one ProjectSettings, written with PUT ProjectSettings/${SETTINGS_ID}`);
  for (const element of ['accessTokenLifetime', 'backendAccessTokenLifetime', 'idTokenLifetime']) {
    const value = resource[element];
    if (typeof value === 'number' && value > MAX_TOKEN_LIFETIME) throw bad(element, `must be at most ${MAX_TOKEN_LIFETIME} seconds (got ${value})`);
  }
  if (typeof resource.refreshTokenLifetime === 'number' && resource.refreshTokenLifetime > MAX_REFRESH_LIFETIME) {
    throw bad('refreshTokenLifetime', `must be at most ${MAX_REFRESH_LIFETIME} seconds (got ${resource.refreshTokenLifetime})`);
  }
  if (resource.smartStyleUrl !== undefined) {
    const filled = String(resource.smartStyleUrl).replace(/\{(issuer|tenant|project)\}/g, (_m, k: string) => (k === 'issuer' ? 'https://issuer.example' : 'x'));
    if (!isHttpUrl(filled)) throw bad('smartStyleUrl', 'must be an absolute http(s) URL (placeholders {issuer}, {tenant}, {project} allowed)');
  }
  const origins = Array.isArray(resource.allowedOrigin) ? (resource.allowedOrigin as unknown[]) : [];
  for (const [index, origin] of origins.entries()) {
    if (!isOrigin(origin)) {
      throw new BadRequestError(
        `ProjectSettings.allowedOrigin[${index}] must be an origin such as https://app.example.com (scheme, host and port only), got '${String(origin).slice(0, 200)}'`,
        [`ProjectSettings.allowedOrigin[${index}]`],
      );
    }
  }
  const limit = resource.loginRateLimit;
  if (typeof limit === 'number' && (limit < 1 || limit > MAX_LOGIN_RATE_LIMIT)) {
    throw bad('loginRateLimit', `must be from 1 to ${MAX_LOGIN_RATE_LIMIT} failed sign-ins per minute (got ${limit})`);
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Whether a value is exactly an http(s) origin.
 * @param value - the candidate
 * @returns true for `scheme://host[:port]`
 */
export function isOrigin(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}
