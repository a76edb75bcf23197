/**
 * `POST {issuer}/api/v1/oauth/launch` — starts an EHR launch (docs/smart.md "EHR launch").
 * The caller is a signed-in user's bearer token (an EHR front end acting for its user). Form parameters:
 * `client_id` (the app; it must be active and have a `launchUri`), `patient` (a Patient id) and optionally
 * `encounter` (an Encounter id). The user must be able to read the patient (and encounter) with this token —
 * its scopes and the user's AccessPolicies, exactly as `GET {FHIR base}/Patient/{id}` would judge it.
 * Answer: `{ launch, url }`, `url` being `ClientApplication.launchUri?iss={FHIR base}&launch={launch}`.
 * Errors are `{error, error_description}`: 401 `invalid_token`, 403 `insufficient_scope` (not a user token),
 * 400 `invalid_request` (bad parameters, unknown client, unreadable patient or encounter).
 */
import type { Request, RequestHandler, Response } from 'express';
import { callerContext } from '../fhir/access/caller-context';
import { ScopeGate } from '../fhir/access/scope-gate';
import { FhirError } from '../fhir/errors';
import { isValidId } from '../fhir/repository/repository';
import type { BearerAuthenticator } from '../oauth/bearer';
import { isClientActive, loadClient } from '../oauth/clients/client-store';
import type { OAuthDeps } from '../oauth/deps';
import { InsufficientScopeError, InvalidRequestError } from '../oauth/errors';
import { auditDetail } from '../oauth/endpoints/audit';
import { sendNoStore } from '../oauth/endpoints/respond';
import { endpointDpopRequest, loadProject, noCache, oauthLocals, parseForm } from '../oauth/endpoints/steps';
import { createLaunch } from './launch-context';

function idParameter(params: Record<string, string>, name: string, required: boolean): string | undefined {
  const value = params[name];
  if (value === undefined) {
    if (required) throw new InvalidRequestError(`${name} is required`);
    return undefined;
  }
  if (!isValidId(value)) throw new InvalidRequestError(`${name} must be a ${name === 'patient' ? 'Patient' : 'Encounter'} id`);
  return value;
}

function launchStep(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler {
  return async function createLaunchStep(req: Request, res: Response): Promise<void> {
    const { project, params } = oauthLocals(res);
    const auth = await bearer.authenticate(req.get('authorization'), project, () => endpointDpopRequest(req, res, `${project.oauthBase}/launch`));
    req.ctx.clientId = auth.clientId;
    req.ctx.userId = auth.userId;
    const detail = auditDetail(res);
    detail.clientId = auth.clientId;
    if (auth.userId) detail.userId = auth.userId;
    if (!auth.userId) throw new InsufficientScopeError('An EHR launch is started by a signed-in user', 'user').forDpop(auth.jkt !== undefined);
    const clientId = params.client_id;
    if (!clientId) throw new InvalidRequestError('client_id is required');
    const patient = idParameter(params, 'patient', true) as string;
    detail.entities = [{ reference: `ClientApplication/${clientId}`, name: 'launched app' }];
    detail.patient = patient;
    const encounter = idParameter(params, 'encounter', false);
    const client = await loadClient(deps, project.key, clientId);
    if (!client || !isClientActive(client)) throw new InvalidRequestError('Unknown or inactive client_id');
    const launchUri = typeof client.launchUri === 'string' ? client.launchUri : undefined;
    if (!launchUri) throw new InvalidRequestError('The application has no launchUri');
    // The user must see the patient (and encounter) as the FHIR API would show it to this token.
    const scopes = new ScopeGate(auth.scopes, auth.patient, project.fhirBase);
    for (const [type, id] of [['Patient', patient], ['Encounter', encounter]] as const) {
      if (id === undefined) continue;
      const ctx = await callerContext(deps, project.key, auth, { interaction: 'read', resourceType: type, id, parameters: [] }, { scopes, auth });
      if (!ctx) throw new InvalidRequestError('Unknown project');
      try {
        await ctx.repo.read(type, id);
      } catch (err) {
        if (err instanceof FhirError) throw new InvalidRequestError(`${type}/${id} cannot be read by this user`);
        throw err;
      }
    }
    const launch = await createLaunch(deps.storage.records, { project: project.key, clientId, userId: auth.userId, patient, ...(encounter ? { encounter } : {}) });
    const url = new URL(launchUri);
    url.searchParams.set('iss', project.fhirBase);
    url.searchParams.set('launch', launch);
    sendNoStore(res, 200, { launch, url: url.toString() });
  };
}

/**
 * The endpoint's steps.
 * @param deps - OAuth dependencies
 * @param bearer - the bearer authenticator
 * @returns the middleware chain
 */
export function launchEndpoint(deps: OAuthDeps, bearer: BearerAuthenticator): RequestHandler[] {
  return [noCache, loadProject(deps), parseForm, launchStep(deps, bearer)];
}
