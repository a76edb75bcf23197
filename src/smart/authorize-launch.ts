/**
 * SMART at `/authorize` (https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code):
 * - `aud` names the FHIR server the app will use. It is required of every request that asks for anything beyond a
 *   plain OpenID Connect sign-in — FHIR resource scopes (`patient/`, `user/`, `system/`), launch context (`launch`,
 *   `launch/patient`, `launch/encounter`, the `launch` parameter), or any other scope not in
 *   {@link SIGN_IN_SCOPES} — and must then, and whenever it is given, equal this project's FHIR base URL exactly;
 *   otherwise no code is issued (`invalid_request`, sent to the redirect URI with `state`). The requested scopes
 *   decide, not the granted ones, so the rule does not depend on the client's registration.
 * - EHR launch: scope `launch` requires the `launch` parameter; its context must have been created for this
 *   client in this project and not have expired (`invalid_request` otherwise). The context is bound into the
 *   authorization request, with the user who created it: only that user's sign-in completes the launch.
 * - Standalone launch: `launch/patient` without EHR context is resolved when the code is issued (the user's
 *   Membership link when it is a Patient, or the patient they pick).
 */
import { parseScope } from '../oauth/scopes';
import type { RecordStore } from '../storage/ports';
import { AuthorizeRedirectError } from '../oauth/interaction/errors';
import type { AuthorizationRequest } from '../oauth/interaction/interaction-store';
import type { OAuthParams } from '../oauth/interaction/params';
import { resolveLaunch } from './launch-context';

/** The scopes of a plain OpenID Connect sign-in: a request asking for these alone needs no `aud`. */
export const SIGN_IN_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'fhirUser', 'offline_access']);

/**
 * Applies the SMART parameters of an authorization request.
 * @param records - the record store
 * @param project - the project key and issuer
 * @param project.key - `tenant/project`
 * @param project.issuer - the issuer URL (the FHIR base is `{issuer}/api/v1/fhir/r4`)
 * @param params - the request parameters
 * @param request - the validated request; its `launch` and `launchUserId` are set for an EHR launch
 * @throws AuthorizeRedirectError (`invalid_request`) for a missing or wrong `aud`, or a bad `launch`
 */
export async function applySmartLaunch(
  records: RecordStore,
  project: { key: string; issuer: string },
  params: OAuthParams,
  request: AuthorizationRequest,
): Promise<void> {
  const launch = params.values.get('launch');
  const aud = params.values.get('aud');
  const fhirBase = `${project.issuer}/api/v1/fhir/r4`;
  const wantsFhir = launch !== undefined || parseScope(params.values.get('scope')).some((s) => !SIGN_IN_SCOPES.has(s));
  if (aud === undefined && wantsFhir) throw new AuthorizeRedirectError('invalid_request', `aud is required: the FHIR base URL ${fhirBase}`);
  if (aud !== undefined && aud !== fhirBase) throw new AuthorizeRedirectError('invalid_request', `aud must be this server's FHIR base URL ${fhirBase}`);
  if (!request.scope.includes('launch')) return;
  if (launch === undefined) throw new AuthorizeRedirectError('invalid_request', 'The launch scope needs the launch parameter of an EHR launch');
  const resolved = await resolveLaunch(records, project.key, request.clientId, launch);
  if (!resolved) throw new AuthorizeRedirectError('invalid_request', 'The launch value is unknown, expired, or was created for another application');
  request.launch = { ...resolved.context };
  request.launchUserId = resolved.userId;
}
