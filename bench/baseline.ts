/**
 * The benchmark baseline: a bare Express 5 app that answers the routes the harness loads with fixed JSON of about
 * the size the real server sends. It shows what Node + Express alone cost on this machine, so the server's figures
 * can be read as a ratio rather than as absolute numbers.
 *
 * - GET  {base}/Patient/:id           → a Patient-like JSON
 * - POST {base}/Patient               → parses the body, echoes it with a new id and meta, 201 + Location
 * - PUT  {base}/Patient/:id           → parses the body, echoes it with the path id and meta, 200
 * - GET  {base}/Patient/:id/_history  → a history Bundle of three versions
 * - GET  {base}/Observation?...        → a searchset Bundle of 20 Observations (plus 20 Patients with _include)
 * - POST {base}                        → parses a transaction Bundle, answers a transaction-response
 * - POST {oauth}/token                 → parses the form, answers a fixed token response of the real one's size
 * - GET  /healthz, /readyz            → 200
 *
 * Run as a child process by bench/run.ts (`PORT` from the environment, default 3001).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import express from 'express';
import type { Express, Request, Response } from 'express';
import { FHIR_BASE_PATH, FHIR_JSON, makeObservation, makeStoredPatient } from './fixtures';
import { TOKEN_PATH } from './scenarios';

/** Number of versions the fixed history Bundle lists (the harness prepares the same number on the server). */
export const BASELINE_HISTORY_VERSIONS = 3;

function sendFhir(res: Response, status: number, body: unknown): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

function stamp(body: unknown, id: string, versionId: string): Record<string, unknown> {
  const resource = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return { ...resource, id, meta: { versionId, lastUpdated: new Date().toISOString() } };
}

function historyBundle(id: string): unknown {
  const entry = [];
  for (let v = BASELINE_HISTORY_VERSIONS; v >= 1; v--) {
    entry.push({
      fullUrl: `http://localhost${FHIR_BASE_PATH}/Patient/${id}`,
      resource: makeStoredPatient(id, String(v)),
      request: { method: v === 1 ? 'POST' : 'PUT', url: v === 1 ? 'Patient' : `Patient/${id}` },
      response: { status: v === 1 ? '201' : '200', etag: `W/"${v}"` },
    });
  }
  return { resourceType: 'Bundle', type: 'history', total: BASELINE_HISTORY_VERSIONS, entry };
}

/**
 * Builds the baseline Express app.
 *
 * @returns an app answering the benchmark routes
 */
export function buildBaselineApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ type: ['application/json', FHIR_JSON], limit: '1mb' }));
  const base = `${FHIR_BASE_PATH}/Patient`;

  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  app.get(`${base}/:id/_history`, (req: Request<{ id: string }>, res: Response) => {
    sendFhir(res, 200, historyBundle(req.params.id));
  });
  app.get(`${base}/:id`, (req: Request<{ id: string }>, res: Response) => {
    res.setHeader('ETag', 'W/"1"');
    sendFhir(res, 200, makeStoredPatient(req.params.id));
  });
  app.post(base, (req: Request, res: Response) => {
    const id = randomUUID();
    res.setHeader('Location', `http://localhost${base}/${id}/_history/1`);
    res.setHeader('ETag', 'W/"1"');
    sendFhir(res, 201, stamp(req.body, id, '1'));
  });
  app.get(`${FHIR_BASE_PATH}/Observation`, (req: Request, res: Response) => {
    const entry: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const id = randomUUID();
      entry.push({ fullUrl: `http://localhost${FHIR_BASE_PATH}/Observation/${id}`, resource: { ...makeObservation(i, `Patient/p${i}`), id }, search: { mode: 'match' } });
    }
    if (req.query._include !== undefined) {
      for (let i = 0; i < 20; i++) {
        entry.push({ fullUrl: `http://localhost${base}/p${i}`, resource: makeStoredPatient(`p${i}`), search: { mode: 'include' } });
      }
    }
    sendFhir(res, 200, { resourceType: 'Bundle', type: 'searchset', total: 500, link: [{ relation: 'self', url: req.url }], entry });
  });
  app.post(FHIR_BASE_PATH, (req: Request, res: Response) => {
    const entries = Array.isArray(req.body?.entry) ? (req.body.entry as unknown[]) : [];
    const entry = entries.map(() => {
      const id = randomUUID();
      return { response: { status: '201 Created', location: `Patient/${id}/_history/1`, etag: 'W/"1"' } };
    });
    sendFhir(res, 200, { resourceType: 'Bundle', type: 'transaction-response', entry });
  });
  const fixedToken = `${'e'.repeat(120)}.${'p'.repeat(420)}.${'s'.repeat(342)}`;
  app.post(TOKEN_PATH, express.urlencoded({ extended: false }), (req: Request, res: Response) => {
    if (req.body?.grant_type !== 'client_credentials') {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: 'client_credentials only' });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({ access_token: fixedToken, token_type: 'Bearer', expires_in: 3600, scope: 'system/*.*' });
  });
  app.put(`${base}/:id`, (req: Request<{ id: string }>, res: Response) => {
    res.setHeader('ETag', 'W/"2"');
    sendFhir(res, 200, stamp(req.body, req.params.id, '2'));
  });
  return app;
}

/**
 * Starts the baseline on `port`.
 *
 * @param port - TCP port to listen on (all interfaces)
 * @returns the listening server
 */
export function startBaseline(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = buildBaselineApp().listen(port, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 3001);
  startBaseline(port).then(
    (server) => {
      const stop = (): void => {
        server.close(() => process.exit(0));
        server.closeAllConnections();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err: unknown) => {
      console.error('baseline failed to start:', err);
      process.exit(1);
    },
  );
}
