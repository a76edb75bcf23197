/**
 * Serves the admin web app (built by `npm run build:admin` from src/admin-app/ into generated/admin-app/) at
 * `/admin/`, and a small landing page at `/` that links to it. The app is static: hashed assets under
 * `/admin/assets/` are cached for a year, everything else under `/admin/` that is not a file answers the app's
 * `index.html` (deep links such as `/admin/resources/Patient` load the app, which routes on the client).
 * `/admin/config.json` tells the app where the bootstrap project lives and which redirect URI it is registered
 * with. The pages get their own Content-Security-Policy: scripts only from this origin (no inline script),
 * requests only to this origin; inline styles are allowed because the component library and the editor set
 * element styles at run time.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, Router } from 'express';
import { GENERATED_DIR } from '../paths';

/** Where the built app lives. */
export const ADMIN_APP_DIR = path.join(GENERATED_DIR, 'admin-app');

/** The path the app is served under. */
export const ADMIN_APP_PATH = '/admin';

/** The Content-Security-Policy of the app's pages. */
export const ADMIN_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** What the app reads at start: the project it manages by default and its OAuth client. */
export interface AdminAppSettings {
  publicUrl: string;
  tenant: string;
  project: string;
  clientId: string;
}

/** The id (= client_id) of the public ClientApplication the admin app signs in with (seed/bootstrap.json). */
export const ADMIN_APP_CLIENT_ID = 'admin-app';

const NOT_BUILT = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Admin app not built</title></head>
<body><h1>The admin app is not built</h1><p>Run <code>npm run build:admin</code> (or <code>npm install</code>) and reload.</p></body></html>`;

/**
 * The router of `/admin` and `/`.
 * @param settings - what config.json tells the app
 * @param dir - the built app (default generated/admin-app)
 * @returns the router
 */
export function adminApp(settings: AdminAppSettings, dir = ADMIN_APP_DIR): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const config = JSON.stringify({
    tenant: settings.tenant,
    project: settings.project,
    clientId: settings.clientId,
    redirectUri: `${settings.publicUrl.replace(/\/+$/, '')}${ADMIN_APP_PATH}/callback`,
    // The `aud` of the authorization request: the absolute FHIR base the tokens are for.
    fhirUrl: `${settings.publicUrl.replace(/\/+$/, '')}/w/${settings.tenant}/${settings.project}/api/v1/fhir/r4`,
  });
  let indexHtml: string | undefined;
  const index = (): string | undefined => {
    if (indexHtml === undefined && existsSync(path.join(dir, 'index.html'))) indexHtml = readFileSync(path.join(dir, 'index.html'), 'utf8');
    return indexHtml;
  };
  const page = (res: Response, status: number, html: string): void => {
    res.status(status);
    res.setHeader('Content-Security-Policy', ADMIN_APP_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(html);
  };

  router.get('/', (_req, res) => {
    page(res, 200, landingPage(settings));
  });
  router.get(ADMIN_APP_PATH, (_req, res) => {
    res.redirect(301, `${ADMIN_APP_PATH}/`);
  });
  router.get(`${ADMIN_APP_PATH}/config.json`, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('json').send(config);
  });
  router.use(
    `${ADMIN_APP_PATH}/assets`,
    (_req, res, next) => {
      res.setHeader('Content-Security-Policy', ADMIN_APP_CSP);
      next();
    },
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, redirect: false, fallthrough: true }),
    (_req: Request, res: Response) => {
      res.status(404).type('text').send('Not found');
    },
  );
  router.get(/^\/admin\/(.*)$/, (req, res) => {
    // A file of the build's top level (favicon); anything else is a route of the app.
    const name = req.path.slice(ADMIN_APP_PATH.length + 1);
    if (/^[A-Za-z0-9_-]+\.(svg|ico|png|txt)$/.test(name) && existsSync(path.join(dir, name))) {
      res.setHeader('Content-Security-Policy', ADMIN_APP_CSP);
      res.sendFile(path.join(dir, name));
      return;
    }
    const html = index();
    page(res, html ? 200 : 503, html ?? NOT_BUILT);
  });
  return router;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function landingPage(settings: AdminAppSettings): string {
  const fhir = `/w/${settings.tenant}/${settings.project}/api/v1/fhir/r4`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>FHIR server</title></head>
<body>
<h1>FHIR R4 server</h1>
<ul>
<li><a href="${ADMIN_APP_PATH}/">Admin app</a>: clients, users, memberships, access policies and data</li>
<li>FHIR base: <code>${escapeHtml(fhir)}</code> (<a href="${escapeHtml(fhir)}/metadata">CapabilityStatement</a>,
<a href="${escapeHtml(fhir)}/.well-known/smart-configuration">SMART configuration</a>)</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul>
</body></html>`;
}
