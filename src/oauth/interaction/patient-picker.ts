/**
 * The patient picker of a standalone SMART launch (SMART App Launch 2.x, `launch/patient` without EHR context;
 * docs/smart.md "Standalone launch and the patient picker"). Shown after sign-in, before consent, to a user
 * whose Membership links no Patient:
 * - `GET  {oauth}/patient-picker?interaction=..&name=..&birthdate=..` — the search form, and the patients the
 *   user may read that match (FHIR search: `name` string prefix, `birthdate` date), at most 20;
 * - `POST {oauth}/patient-picker` (interaction, csrf, patient) — the choice. The user's right to read that
 *   patient is checked again; an unreadable or unknown id is an error page, never a code. The choice becomes
 *   the interaction's launch context and the flow moves on (consent, or the code).
 * Access is the user's own (AccessPolicies; owners and admins see all), without scope narrowing: no token exists yet.
 */
import type { Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import type { Resource } from '../../fhir/repository/repository';
import { PICKER_LIMIT, type PatientCriteria, readPatientForUser, searchPatientsForUser } from '../../smart/patient-access';
import type { AuthorizeClient } from './authorize-request';
import { interactionContext, type InteractionContext } from './context';
import { InteractionPageError, interactionExpired } from './errors';
import { continueInteraction, currentSession, needsPatient, requireUser, sendRedirect, type SignedIn } from './flow';
import { type Interaction, saveInteractionRequest } from './interaction-store';
import { postedInteraction, viewedInteraction } from './page-interaction';
import { patientPickerPage, type PickerPatient } from './views/pages';
import { sendPage } from './views/respond';

const MAX_CRITERION = 200;

function textParam(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, MAX_CRITERION) : '';
}

/** A patient's display name: the first HumanName's text, or given and family names. */
function displayName(patient: Resource): string {
  const names = Array.isArray(patient.name) ? (patient.name as Array<Record<string, unknown>>) : [];
  const first = names[0];
  if (!first) return `Patient ${String(patient.id)}`;
  if (typeof first.text === 'string' && first.text) return first.text;
  const given = Array.isArray(first.given) ? first.given.filter((g): g is string => typeof g === 'string') : [];
  const family = typeof first.family === 'string' ? [first.family] : [];
  return [...given, ...family].join(' ') || `Patient ${String(patient.id)}`;
}

function toPickerPatient(patient: Resource): PickerPatient {
  return { id: String(patient.id), name: displayName(patient), ...(typeof patient.birthDate === 'string' ? { birthDate: patient.birthDate } : {}) };
}

async function showPicker(ctx: InteractionContext, req: Request, res: Response, interaction: Interaction, client: AuthorizeClient, user: SignedIn): Promise<void> {
  const criteria: PatientCriteria = { name: textParam(req.query.name), birthdate: textParam(req.query.birthdate) };
  const searched = Boolean(criteria.name || criteria.birthdate);
  const result = searched ? await searchPatientsForUser(ctx.deps, { project: ctx.project.key, ...user }, criteria) : undefined;
  sendPage(res, {
    status: 200,
    formTargets: [interaction.request.redirectUri],
    ...patientPickerPage({
      action: `${ctx.basePath}/patient-picker`,
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: client.name ?? client.id,
      name: criteria.name ?? '',
      birthdate: criteria.birthdate ?? '',
      limit: PICKER_LIMIT,
      ...(result && 'error' in result ? { error: result.error } : {}),
      ...(result && 'patients' in result ? { patients: result.patients.map(toPickerPatient) } : {}),
    }),
  });
}

/**
 * GET /patient-picker
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function patientPickerPageHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await viewedInteraction(ctx, req);
    const user = await requireUser(ctx, req, res, interaction);
    if (!user) return;
    // Nothing to pick (linked patient, EHR context, or already chosen): on to consent.
    if (!(await needsPatient(ctx, interaction.request, user))) return sendRedirect(res, ctx.pageUrl('consent', interaction.id));
    await showPicker(ctx, req, res, interaction, client, user);
  };
}

/**
 * POST /patient-picker (`patient` = the chosen Patient id)
 * @param deps - the OAuth dependencies
 * @returns the handler
 */
export function patientPickerSubmitHandler(deps: OAuthDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = await interactionContext(deps, req);
    const { interaction, client } = await postedInteraction(ctx, req);
    const user = await requireUser(ctx, req, res, interaction);
    if (!user) return;
    if (!(await needsPatient(ctx, interaction.request, user))) throw interactionExpired();
    const id = textParam((req.body as Record<string, unknown>).patient);
    const patient = id ? await readPatientForUser(deps, { project: ctx.project.key, ...user }, id) : undefined;
    if (!patient) {
      req.ctx?.logger.warn({ event: 'patient_pick_refused', project: ctx.project.key, userId: user.userId }, 'patient picker: unreadable patient');
      throw new InteractionPageError(403, 'This patient cannot be chosen', 'You may not choose this patient. Go back to the application and start again.', 'access_denied');
    }
    const request = { ...interaction.request, launch: { source: 'standalone', patient: String(patient.id) } };
    const updated = await saveInteractionRequest(deps.storage.records, interaction, request);
    await continueInteraction(ctx, res, updated, client, await currentSession(ctx, req));
  };
}
