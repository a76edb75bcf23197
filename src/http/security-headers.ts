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
  const html = helmet({ contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"] } } });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!apiPath.test(req.path)) {
      html(req, res, next);
      return;
    }
    for (const [name, value] of API_HEADER_LIST) res.setHeader(name, value);
    next();
  };
}
