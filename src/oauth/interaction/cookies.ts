/**
 * The two cookies of the interaction pages, both HttpOnly, SameSite=Lax, `Secure` when PUBLIC_URL is https,
 * and scoped to the project's OAuth path (`/w/{tenant}/{project}/api/v1/oauth`), so that each project has its
 * own sign-in:
 * - `fhir_session`: the login session id (random 256 bits; the server stores only its SHA-256);
 * - `fhir_interaction_<tag>`: binds a pending authorization request to the browser that started it (its value
 *   must equal the interaction id the page was opened with), which defeats login CSRF and interaction hijacking.
 *   One cookie per interaction (`<tag>` is derived from the id), so sign-ins in two tabs do not disturb each other.
 */
import type { Request, Response } from 'express';
import { hashToken } from './csrf';

/** Cookie names. */
export const SESSION_COOKIE = 'fhir_session';
const INTERACTION_COOKIE_PREFIX = 'fhir_interaction_';

/**
 * The name of an interaction's cookie.
 * @param interactionId - the interaction id
 * @returns `fhir_interaction_` + 16 characters of the id's SHA-256
 */
export function interactionCookie(interactionId: string): string {
  return `${INTERACTION_COOKIE_PREFIX}${hashToken(interactionId).slice(0, 16)}`;
}

/** Where and how cookies are set for one project. */
export interface CookieScope {
  /** The cookie Path (the project's OAuth base path). */
  path: string;
  secure: boolean;
}

/**
 * Reads one cookie from the request. Values are the server's own base64url tokens, so no decoding is needed;
 * anything else is ignored.
 * @param req - the request
 * @param name - the cookie name
 * @returns the value, or undefined
 */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{16,128}$/.test(value)) return value;
  }
  return undefined;
}

/**
 * Sets a cookie (appending to any Set-Cookie already on the response).
 * @param res - the response
 * @param name - the cookie name
 * @param value - a base64url value
 * @param scope - path and Secure flag
 * @param maxAgeSeconds - lifetime; 0 deletes the cookie
 */
export function writeCookie(res: Response, name: string, value: string, scope: CookieScope, maxAgeSeconds: number): void {
  const attributes = [
    `${name}=${value}`,
    `Path=${scope.path}`,
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Lax',
  ];
  if (maxAgeSeconds <= 0) attributes.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (scope.secure) attributes.push('Secure');
  res.append('Set-Cookie', attributes.join('; '));
}

/**
 * Deletes a cookie.
 * @param res - the response
 * @param name - the cookie name
 * @param scope - path and Secure flag (must match how it was set)
 */
export function clearCookie(res: Response, name: string, scope: CookieScope): void {
  writeCookie(res, name, '', scope, 0);
}
