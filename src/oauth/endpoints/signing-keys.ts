/**
 * The project's signing keys over HTTP, for owners and administrators (the `fhir-smart keys` commands):
 * - `GET {issuer}/api/v1/oauth/keys`: `{ keys: [{ kid, alg, createdAt, retiredAt?, removeAfter? }] }`, oldest first
 *   (never a private part; the public keys are at `/jwks`);
 * - `POST {issuer}/api/v1/oauth/keys/rotate`: retires the active key and creates a new one, exactly as
 *   `npm run keys -- rotate` (the retired key stays in the JWKS until every token it signed has expired; other
 *   instances pick the new key up within a minute): `{ kid, retired? }`.
 * The caller is a bearer token of this project (401 `invalid_token` as on the FHIR API) held by an owner or admin
 * user, or by a client a `full-access` AccessPolicy targets, whose scopes reach every resource type without
 * restriction (`user/*.*`, `system/*.*`, `user/*.cruds`, …: read for the list, update for a rotation); anything
 * else is 403 `insufficient_scope`. A rotation is recorded as a `signing-key-rotated` AuditEvent.
 */
import type { Request, RequestHandler, Response } from 'express';
import { isAdministrator } from '../../fhir/access/escalation';
import { loadPrincipal, policyCacheFor } from '../../policy';
import { parseResourceScope } from '../../smart/scopes';
import type { BearerAuthenticator } from '../bearer';
import type { OAuthDeps } from '../deps';
import { InsufficientScopeError } from '../errors';
import type { KeyStore } from '../tokens/keys';
import { sendNoStore } from './respond';
import { endpointDpopRequest, loadProject, noCache, oauthLocals } from './steps';

/** Whether the scopes hold a `user/` or `system/` scope over every type, unrestricted, with this permission. */
function wildcardScope(scopes: readonly string[], permission: 'r' | 'u'): boolean {
  return scopes.some((token) => {
    const scope = parseResourceScope(token);
    return scope !== undefined && scope.context !== 'patient' && scope.resourceType === '*' && scope.restriction === undefined && scope.permissions.has(permission);
  });
}

function administrator(deps: OAuthDeps, bearer: BearerAuthenticator, permission: 'r' | 'u'): RequestHandler {
  return async function signingKeysCallerStep(req: Request, res: Response, next): Promise<void> {
    const { project } = oauthLocals(res);
    const auth = await bearer.authenticate(req.get('authorization'), project, () => endpointDpopRequest(req, res, `${project.oauthBase}${permission === 'r' ? '/keys' : '/keys/rotate'}`));
    req.ctx.clientId = auth.clientId;
    req.ctx.userId = auth.userId;
    const scope = permission === 'r' ? 'user/*.rs' : 'user/*.cruds';
    if (!wildcardScope(auth.scopes, permission)) {
      throw new InsufficientScopeError(`The signing keys need ${permission === 'r' ? 'read' : 'write'} access to every resource type (user/*.* or system/*.*)`, scope, project.issuer);
    }
    const store = deps.storage.resources;
    const principal = await loadPrincipal(policyCacheFor(store), store, {
      project: project.key,
      clientId: auth.clientId,
      userId: auth.userId,
      membershipId: auth.membershipId,
      scopes: auth.scopes,
    });
    if (!isAdministrator(principal)) throw new InsufficientScopeError('The signing keys are reserved to owners and administrators of the project', scope, project.issuer);
    next();
  };
}

function listKeys(keys: KeyStore): RequestHandler {
  return async function listSigningKeysStep(_req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const described = await keys.describe(project.key);
    sendNoStore(res, 200, { keys: described.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== undefined))) });
  };
}

function rotateKey(keys: KeyStore): RequestHandler {
  return async function rotateSigningKeyStep(_req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    const { kid, retired } = await keys.rotate(project.key);
    sendNoStore(res, 200, retired ? { kid, retired } : { kid });
  };
}

/** `GET /keys`. */
export function signingKeysEndpoint(deps: OAuthDeps, bearer: BearerAuthenticator, keys: KeyStore): RequestHandler[] {
  return [noCache, loadProject(deps), administrator(deps, bearer, 'r'), listKeys(keys)];
}

/** `POST /keys/rotate`. */
export function rotateSigningKeyEndpoint(deps: OAuthDeps, bearer: BearerAuthenticator, keys: KeyStore): RequestHandler[] {
  return [noCache, loadProject(deps), administrator(deps, bearer, 'u'), rotateKey(keys)];
}
