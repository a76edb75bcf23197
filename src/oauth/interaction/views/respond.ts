/**
 * Sends an interaction page with the headers every such page carries:
 * - `Content-Security-Policy`: nothing loads but the inline stylesheet (by hash); no scripts; `frame-ancestors
 *   'none'`; `form-action` limited to this server and the origin the flow may redirect to (Chromium applies
 *   form-action to the redirect that answers a form post, so the client's origin must be listed);
 * - `Cache-Control: no-store` (pages carry CSRF tokens and personal data), `X-Frame-Options: DENY`.
 */
import type { Response } from 'express';
import type { SafeHtml } from './html';
import { layout, STYLE_HASH } from './layout';

/** What a page response is made of. */
export interface PageOptions {
  status: number;
  title: string;
  content: SafeHtml;
  /** Redirect URIs a form on this page may end up at (their origins join `form-action`). */
  formTargets?: string[];
  /** Image URLs shown on the page (https only; their origins join `img-src`). */
  imageSources?: string[];
  /** Extra response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
}

/**
 * The CSP source expression for a redirect target: its origin for http(s), its scheme for private-use schemes.
 * @param uri - an absolute URI
 * @returns the source expression, or undefined when none can be formed safely
 */
export function formActionSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  // Only characters that cannot end a CSP source expression (no ';', ',', quotes or spaces).
  if (url.protocol === 'http:' || url.protocol === 'https:') return /^https?:\/\/[A-Za-z0-9.\-[\]:]+$/.test(url.origin) ? url.origin : undefined;
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
}

/**
 * Builds the page's Content-Security-Policy.
 * @param formTargets - redirect URIs forms may lead to
 * @param imageSources - image URLs on the page (button logos)
 * @returns the header value
 */
export function pagePolicy(formTargets: string[] = [], imageSources: string[] = []): string {
  const targets = [...new Set(formTargets.map(formActionSource).filter((s): s is string => s !== undefined))];
  const images = [...new Set(imageSources.map(formActionSource).filter((s): s is string => s?.startsWith('https://') === true))];
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    ...(images.length > 0 ? [`img-src ${images.join(' ')}`] : []),
    ['form-action', "'self'", ...targets].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * Renders and sends a page.
 * @param res - the response
 * @param options - status, title, content and redirect targets
 */
export function sendPage(res: Response, options: PageOptions): void {
  res.status(options.status);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', pagePolicy(options.formTargets, options.imageSources));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('X-Frame-Options', 'DENY');
  for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value);
  res.send(layout(options.title, options.content));
}
