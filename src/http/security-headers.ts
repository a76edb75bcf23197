/**
 * Response security headers. The FHIR API answers JSON to programs, never HTML to people, so it gets the header
 * set recommended for REST APIs (OWASP REST Security Cheat Sheet, "Security Headers"); every other path (the
 * login, consent and picker pages, the OAuth endpoints, the discovery documents) gets helmet's set for HTML
 * applications, which pages narrow further with their own Content-Security-Policy.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/** Headers of every FHIR API response (`Cache-Control: no-store` is set with the body, in fhir/rest/respond.ts). */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

const API_HEADER_LIST = Object.entries(API_SECURITY_HEADERS);

/**
 * The security headers middleware of the app.
 * @param apiPath - the paths of the FHIR API (matched against the request path)
 * @returns the middleware
 */
export function securityHeaders(apiPath: RegExp): RequestHandler {
  const html = helmetHeaders(helmet(HTML_OPTIONS));
  return (req: Request, res: Response, next: NextFunction): void => {
    const list = apiPath.test(req.path) ? API_HEADER_LIST : html;
    for (const [name, value] of list) res.setHeader(name, value);
    next();
  };
}

/** helmet's options for everything but the FHIR API. */
export const HTML_OPTIONS = { contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"] } } };

/**
 * The headers a helmet middleware sets. With static options they are the same for every request, so they are
 * computed once and set in one loop, instead of through a dozen chained middlewares per request.
 * @param middleware - the helmet middleware
 * @returns the headers, in helmet's order
 * @throws when helmet does not run synchronously to its end (options that depend on the request)
 */
export function helmetHeaders(middleware: RequestHandler): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers.set(name, String(value));
      return recorder;
    },
    removeHeader(name: string) {
      headers.delete(name);
    },
  };
  let done = false;
  void middleware({} as Request, recorder as unknown as Response, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  if (!done) throw new Error('the security headers depend on the request');
  return [...headers];
}
