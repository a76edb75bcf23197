/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592) at `{issuer}/api/v1/oauth/register`.
 *
 * `POST /register` (JSON metadata, metadata.ts) registers a client — a ClientApplication create — when it carries
 * one of (open registration, with neither, does not exist):
 * - an initial access token: `Authorization: Bearer <access token of this project>`. The create goes through the
 *   access-controlled repository as that token's caller, judged like `POST {FHIR base}/ClientApplication` with the
 *   same token (its scopes ∩ its policies: owners, admins, or an AccessPolicy permitting the create). A refusal is
 *   403 `insufficient_scope`; a bad token 401 `invalid_token`;
 * - a `software_statement` signed by an issuer the project trusts (SOFTWARE_STATEMENT_ISSUERS;
 *   software-statement.ts). With no token, the create is made with the server's authority, the trust being the
 *   issuer's; the statement's claims take precedence over the plain metadata.
 * The answer (201) is the client's metadata with `client_id` (generated), `client_secret` (shown once, for a
 * secret-based method), `client_id_issued_at`, `client_secret_expires_at: 0`, a `registration_access_token`
 * (stored hashed in the write-only `ClientApplication.registrationAccessToken`) and `registration_client_uri`.
 *
 * `GET|PUT|DELETE /register/{client_id}` with `Authorization: Bearer <registration_access_token>` (RFC 7592): read
 * the metadata; replace it (the body names the same `client_id`; grant types and scopes may shrink but not grow —
 * widening them is an administrator's FHIR write; an administrator's `requirePushedAuthorizationRequests` stays);
 * delete the client (204). Any other token, or a client without one, is 401 `invalid_token` whether the client
 * exists or not. These writes use the server's authority: the token was issued for exactly this client.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import { randomUUID } from 'node:crypto';
import { callerContext } from '../../fhir/access/caller-context';
import { ScopeGate } from '../../fhir/access/scope-gate';
import { FhirError } from '../../fhir/errors';
import { FhirRepository, isValidId, type Resource, type WriteResult } from '../../fhir/repository/repository';
import { verifySecret } from '../../security/hashing';
import type { BearerAuthenticator } from '../bearer';
import { loadClientRecord } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import { bearerChallenge, InvalidRequestError, InvalidTokenError, OAuthError, RegistrationError } from '../errors';
import { auditDetail } from '../endpoints/audit';
import { oauthJsonErrors, sendNoStore } from '../endpoints/respond';
import { endpointDpopRequest, loadProject, noCache, oauthLocals } from '../endpoints/steps';
import type { OAuthProject } from '../project';
import { newOpaqueToken } from '../tokens/hash';
import { clientFields, clientMetadata, REGISTERED_FIELDS } from './metadata';
import { storedStatementClaims, verifySoftwareStatement } from './software-statement';

type Json = Record<string, unknown>;

/** Fields an RFC 7592 update may not send (§2.2). */
const SERVER_MANAGED = ['registration_access_token', 'registration_client_uri', 'client_id_issued_at', 'client_secret_expires_at'];

const json = express.json({ limit: '64kb', strict: true, type: () => true });

/** Parses the JSON body; anything else is `invalid_request` (before any credential is looked at). */
function parseJson(req: Request, res: Response, next: NextFunction): void {
  if (!req.is('application/json')) return next(new InvalidRequestError('The body must be application/json'));
  json(req, res, (err?: unknown) => {
    if (err) return next(new InvalidRequestError('The body is not a JSON object'));
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) return next(new InvalidRequestError('The body must be a JSON object'));
    next();
  });
}

function bearerToken(req: Request): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/** A FHIR error from a write, as RFC 7591 sees it. */
function registrationFailure(err: unknown, realm: string): unknown {
  if (!(err instanceof FhirError)) return err;
  if (err.status === 403 || err.status === 404) {
    const refused = new OAuthError('insufficient_scope', 403, 'This token may not create a ClientApplication in this project');
    refused.headers['WWW-Authenticate'] = bearerChallenge({ realm, error: 'insufficient_scope' });
    return refused;
  }
  if (err.status >= 400 && err.status < 500) return new RegistrationError('invalid_client_metadata', err.message.slice(0, 500));
  return err;
}

function clientUri(project: OAuthProject, clientId: string): string {
  return `${project.oauthBase}/register/${encodeURIComponent(clientId)}`;
}

function registrationResponse(project: OAuthProject, written: WriteResult, extra: Json): Json {
  const resource = written.resource as unknown as Json;
  return {
    ...clientMetadata(resource),
    ...(written.generatedSecret !== undefined ? { client_secret: written.generatedSecret, client_secret_expires_at: 0 } : {}),
    registration_client_uri: clientUri(project, String(resource.id)),
    ...extra,
  };
}

/** Metadata with the claims of a software statement (verified when sent now, as stored otherwise) over it. */
async function withStatement(deps: OAuthDeps, project: OAuthProject, body: Json, stored?: unknown): Promise<{ metadata: Json; statement?: string }> {
  if (body.software_statement !== undefined) {
    const claims = await verifySoftwareStatement(deps, project.key, body.software_statement);
    return { metadata: { ...body, ...claims }, statement: body.software_statement as string };
  }
  if (typeof stored === 'string') return { metadata: { ...body, ...storedStatementClaims(stored) }, statement: stored };
  return { metadata: body };
}

function registerStep(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler {
  return async function registerClientStep(req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const body = req.body as Json;
    const hasToken = req.get('authorization') !== undefined;
    const auth = hasToken ? await bearer.authenticate(req.get('authorization'), project, () => endpointDpopRequest(req, res, `${project.oauthBase}/register`)) : undefined;
    if (!auth && body.software_statement === undefined) {
      throw new InvalidTokenError('Registration needs an initial access token (Authorization: Bearer) or a software_statement', project.issuer);
    }
    if (auth) {
      req.ctx.clientId = auth.clientId;
      auditDetail(res).clientId = auth.clientId;
      if (auth.userId) auditDetail(res).userId = auth.userId;
    }
    const { metadata, statement } = await withStatement(deps, project, body);
    const clientId = randomUUID();
    const registrationAccessToken = newOpaqueToken();
    const resource = {
      resourceType: 'ClientApplication',
      id: clientId,
      status: 'active',
      ...clientFields(metadata, deps.config),
      ...(statement !== undefined ? { softwareStatement: statement } : {}),
      registrationAccessToken,
    } as unknown as Resource;
    let written: WriteResult;
    try {
      if (auth) {
        const scopes = new ScopeGate(auth.scopes, auth.patient, project.fhirBase);
        const ctx = await callerContext(deps, project.key, auth, { interaction: 'create', resourceType: 'ClientApplication', parameters: [] }, { scopes, auth });
        if (!ctx) throw new InvalidRequestError('Unknown project');
        written = await ctx.repo.create(resource, clientId);
      } else {
        written = await new FhirRepository(deps.storage.resources, project.key).create(resource, clientId);
      }
    } catch (err) {
      throw registrationFailure(err, project.issuer);
    }
    auditDetail(res).entities = [{ reference: `ClientApplication/${clientId}`, name: 'registered client' }];
    res.setHeader('Location', clientUri(project, clientId));
    sendNoStore(res, 201, registrationResponse(project, written, { client_id_issued_at: Math.floor(Date.parse(written.lastUpdated) / 1000), registration_access_token: registrationAccessToken }));
  };
}

/** The client named in the path, when the request carries its registration access token. */
async function registeredClient(deps: OAuthDeps, req: Request, res: Response, project: OAuthProject): Promise<Json> {
  const token = bearerToken(req);
  const clientId = String(req.params.clientId);
  const record = token !== undefined && isValidId(clientId) ? await loadClientRecord(deps, project.key, clientId) : undefined;
  if (!record?.registrationTokenHash || !verifySecret(token as string, record.registrationTokenHash)) {
    throw new InvalidTokenError('The registration access token is not valid for this client', project.issuer);
  }
  req.ctx.clientId = clientId;
  auditDetail(res).clientId = clientId;
  return { ...record.client, resourceType: 'ClientApplication' };
}

function readStep(deps: OAuthDeps): RequestHandler {
  return async function readRegistrationStep(req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const client = await registeredClient(deps, req, res, project);
    sendNoStore(res, 200, { ...clientMetadata(client), registration_client_uri: clientUri(project, String(client.id)) });
  };
}

function covered(requested: string[], allowed: string[]): boolean {
  return requested.every((value) => allowed.includes(value));
}

function updateStep(deps: OAuthDeps): RequestHandler {
  return async function updateRegistrationStep(req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const stored = await registeredClient(deps, req, res, project);
    const body = req.body as Json;
    if (body.client_id !== stored.id) throw new RegistrationError('invalid_client_metadata', 'client_id must be the registered client_id');
    const managed = SERVER_MANAGED.find((name) => body[name] !== undefined);
    if (managed !== undefined) throw new RegistrationError('invalid_client_metadata', `${managed} cannot be sent in an update`);
    if (body.client_secret !== undefined) {
      const record = await loadClientRecord(deps, project.key, String(stored.id));
      if (typeof body.client_secret !== 'string' || !record?.secretHash || !verifySecret(body.client_secret, record.secretHash)) {
        throw new RegistrationError('invalid_client_metadata', 'client_secret is not the current secret');
      }
    }
    const { metadata, statement } = await withStatement(deps, project, body, stored.softwareStatement);
    const fields = clientFields(metadata, deps.config);
    const grants = (stored.grantType as string[] | undefined) ?? [];
    const scopeTokens = (value: unknown): string[] => (typeof value === 'string' ? value.split(' ').filter((s) => s !== '') : []);
    if (!covered(fields.grantType as string[], grants) || !covered(scopeTokens(fields.scope), scopeTokens(stored.scope))) {
      throw new RegistrationError('invalid_client_metadata', 'An update may not add grant types or scopes; ask an administrator');
    }
    const next: Json = { ...stored };
    for (const name of REGISTERED_FIELDS) delete next[name];
    Object.assign(next, fields);
    if (statement !== undefined) next.softwareStatement = statement;
    if (stored.requirePushedAuthorizationRequests === true) next.requirePushedAuthorizationRequests = true;
    delete next.meta;
    let written: WriteResult;
    try {
      written = await new FhirRepository(deps.storage.resources, project.key).update('ClientApplication', String(stored.id), next as unknown as Resource);
    } catch (err) {
      throw registrationFailure(err, project.issuer);
    }
    sendNoStore(res, 200, registrationResponse(project, written, {}));
  };
}

function deleteStep(deps: OAuthDeps): RequestHandler {
  return async function deleteRegistrationStep(req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const stored = await registeredClient(deps, req, res, project);
    await new FhirRepository(deps.storage.resources, project.key).delete('ClientApplication', String(stored.id));
    res.setHeader('Cache-Control', 'no-store');
    res.status(204).end();
  };
}

function methodNotAllowed(allow: string): RequestHandler {
  return (_req: Request, res: Response): void => {
    res.setHeader('Allow', allow);
    throw new OAuthError('invalid_request', 405, 'This method is not allowed here');
  };
}

/**
 * The registration routes (mounted under the OAuth base).
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator (initial access tokens)
 * @param first - the steps every request starts with (audit, OAUTH_RATE_LIMIT)
 * @returns the router
 */
export function registrationRouter(deps: OAuthDeps, bearer: BearerAuthenticator, first: RequestHandler[]): Router {
  const router = Router({ mergeParams: true });
  const errors = oauthJsonErrors();
  const common = [...first, noCache, loadProject(deps)];
  router.post('/register', ...common, parseJson, registerStep(deps, bearer), errors);
  router.all('/register', methodNotAllowed('POST'), errors);
  router.get('/register/:clientId', ...common, readStep(deps), errors);
  router.put('/register/:clientId', ...common, parseJson, updateStep(deps), errors);
  router.delete('/register/:clientId', ...common, deleteStep(deps), errors);
  router.all('/register/:clientId', methodNotAllowed('GET, PUT, DELETE'), errors);
  return router;
}
