/**
 * Serving the admin web app: `/` links to it, `/admin` redirects to `/admin/`, deep links answer the app's
 * index.html (SPA fallback) with a CSP that allows no inline script, hashed assets are cached, a missing asset is
 * 404 (never the HTML), config.json names the bootstrap project and the registered redirect URI, and an unbuilt
 * app answers 503 with a hint rather than an error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { ADMIN_APP_CSP, adminApp } from '../../src/http/admin-app';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const SETTINGS = { publicUrl: 'https://fhir.example.test/', tenant: 'acme', project: 'main', clientId: 'admin-app' };

describe('admin app routes', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'admin-app-'));
  const app = express().use(adminApp(SETTINGS, dir));
  beforeAll(() => {
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!DOCTYPE html><title>app</title><script type="module" src="/admin/assets/index-abc.js"></script>');
    writeFileSync(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the app and its deep links with the CSP, and redirects /admin', async () => {
    for (const url of ['/admin/', '/admin/r/Patient/p1/history', '/admin/callback?code=x&state=y']) {
      const res = await request(app).get(url).expect(200);
      expect(res.text).toContain('<title>app</title>');
      expect(res.headers['content-security-policy']).toBe(ADMIN_APP_CSP);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    expect(ADMIN_APP_CSP).toContain("script-src 'self'");
    expect(ADMIN_APP_CSP).not.toMatch(/script-src[^;]*unsafe/);
    await request(app).get('/admin').expect(301).expect('Location', '/admin/');
  });

  it('caches hashed assets; a missing asset is 404 text, not the app', async () => {
    const asset = await request(app).get('/admin/assets/index-abc.js').expect(200);
    expect(asset.headers['cache-control']).toMatch(/max-age=31536000.*immutable/);
    const missing = await request(app).get('/admin/assets/missing.js').expect(404);
    expect(missing.text).toBe('Not found');
  });

  it('tells the app its project, client and redirect URI', async () => {
    const res = await request(app).get('/admin/config.json').expect(200);
    expect(res.body).toEqual({
      tenant: 'acme',
      project: 'main',
      clientId: 'admin-app',
      redirectUri: 'https://fhir.example.test/admin/callback',
      fhirUrl: 'https://fhir.example.test/w/acme/main/api/v1/fhir/r4',
    });
  });

  it('answers 503 with a hint while the app is not built', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'admin-app-empty-'));
    try {
      const res = await request(express().use(adminApp(SETTINGS, empty))).get('/admin/').expect(503);
      expect(res.text).toContain('npm run build:admin');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('admin app in the server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t?.close());

  it('links to the app and the FHIR base from /', async () => {
    const res = await request(t.app).get('/').expect(200);
    expect(res.text).toContain('href="/admin/"');
    expect(res.text).toContain('/w/default/default/api/v1/fhir/r4/metadata');
    expect(res.headers['content-security-policy']).toBe(ADMIN_APP_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('leaves other paths to the API: unknown paths stay 404 OperationOutcomes', async () => {
    const res = await request(t.app).get('/nothing-here').expect(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
    await request(t.app).get('/administrator').expect(404);
  });
});
