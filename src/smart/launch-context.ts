/**
 * SMART launch context (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): the patient (and
 * encounter) an app runs for.
 * - EHR launch: an authenticated user creates a context for a client (`POST {oauth}/launch`); the opaque `launch`
 *   value, given back to `/authorize`, binds it into the authorization code. Contexts are records of kind
 *   `smart-launch`, stored under the SHA-256 of the value, bound to the project, the client and the user, and
 *   usable until they expire (LAUNCH_LIFETIME_SECONDS).
 * - Standalone launch (`launch/patient`): the user's Membership link when it is a Patient, or the patient they
 *   pick.
 * The context travels in the grant; access tokens carry `patient` and `encounter` claims, and token responses the
 * SMART context parameters.
 */
import { createHash, randomBytes } from 'node:crypto';
import { referenceOf, RELATIVE_REFERENCE } from '../fhir/reference-patterns';
import type { RecordStore, ResourceStore } from '../storage/ports';
import { type FhirContextItem, fhirContextParameter, readFhirContext } from './fhir-context';

const KIND = 'smart-launch';

/** Seconds an EHR launch context may be used at `/authorize`. */
export const LAUNCH_LIFETIME_SECONDS = 300;

/** The context of one launch, as stored in codes and grants. */
export interface LaunchContext {
  /** How the context was set: an EHR launch, or the user in a standalone launch. */
  source: 'ehr' | 'standalone';
  /** The Patient id. */
  patient?: string;
  /** The Encounter id. */
  encounter?: string;
  /** Further context resources for `fhirContext` (fhir-context.ts). */
  fhirContext?: FhirContextItem[];
}

/** A stored EHR launch. */
interface StoredLaunch {
  project: string;
  clientId: string;
  userId: string;
  patient: string;
  encounter?: string;
}

const hash = (launch: string): string => createHash('sha256').update(launch).digest('base64url');

/**
 * Stores an EHR launch context.
 * @param records - the record store
 * @param launch - project, client, the user who launches, patient and encounter
 * @returns the opaque `launch` value
 */
export async function createLaunch(records: RecordStore, launch: StoredLaunch): Promise<string> {
  const value = randomBytes(32).toString('base64url');
  await records.put({
    kind: KIND,
    key: hash(value),
    value: { ...launch },
    expiresAt: new Date(Date.now() + LAUNCH_LIFETIME_SECONDS * 1000).toISOString(),
  });
  return value;
}

/**
 * Resolves a `launch` value given to `/authorize`.
 * @param records - the record store
 * @param project - the project key
 * @param clientId - the client authorizing
 * @param launch - the value
 * @returns the context and the user it was created by, or undefined when unknown, expired, or for another
 *   project or client
 */
export async function resolveLaunch(
  records: RecordStore,
  project: string,
  clientId: string,
  launch: string,
): Promise<{ context: LaunchContext; userId: string } | undefined> {
  if (launch.length > 512) return undefined;
  const record = await records.get(KIND, hash(launch));
  if (!record || (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= Date.now())) return undefined;
  const stored = record.value as unknown as StoredLaunch;
  if (stored.project !== project || stored.clientId !== clientId) return undefined;
  const context: LaunchContext = { source: 'ehr', patient: stored.patient };
  if (stored.encounter !== undefined) context.encounter = stored.encounter;
  return { context, userId: stored.userId };
}

/**
 * Reads the launch context of a grant.
 * @param value - `Grant.launch`
 * @returns the context, or undefined
 */
export function launchContextOf(value: unknown): LaunchContext | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { source, patient, encounter, fhirContext } = value as Record<string, unknown>;
  if (source !== 'ehr' && source !== 'standalone') return undefined;
  const context: LaunchContext = { source };
  if (typeof patient === 'string') context.patient = patient;
  if (typeof encounter === 'string') context.encounter = encounter;
  const items = readFhirContext(fhirContext);
  if (items.length > 0) context.fhirContext = items;
  return context;
}

/**
 * The SMART context parameters of a token response.
 * @param context - the launch context
 * @param styleUrl - the project's `smart_style_url`
 * @param standaloneBanner - `need_patient_banner` of standalone launches (ProjectSettings.needPatientBanner)
 * @returns `patient`, `encounter`, `fhirContext` (when it has items), `need_patient_banner`, `smart_style_url`
 */
export function tokenResponseContext(context: LaunchContext, styleUrl: string, standaloneBanner = true): Record<string, unknown> {
  const response: Record<string, unknown> = {};
  if (context.patient !== undefined) response.patient = context.patient;
  if (context.encounter !== undefined) response.encounter = context.encounter;
  // The patient and encounter have their own parameters; fhirContext lists only the other context resources.
  const fhirContext = fhirContextParameter(context.fhirContext ?? [], context);
  if (fhirContext.length > 0) response.fhirContext = fhirContext;
  // In an EHR the EHR shows the patient; a standalone app must, unless the project's settings say otherwise.
  response.need_patient_banner = context.source !== 'ehr' && standaloneBanner;
  response.smart_style_url = styleUrl;
  return response;
}

/**
 * The style URL of a project: SMART_STYLE_URL with `{issuer}`, `{tenant}` and `{project}` filled in.
 * @param template - the configured template
 * @param project - issuer, tenant and project name
 * @param project.issuer - the project's issuer URL
 * @param project.tenant - the tenant slug
 * @param project.name - the project slug
 * @returns the URL
 */
export function smartStyleUrl(template: string, project: { issuer: string; tenant: string; name: string }): string {
  return template.replaceAll('{issuer}', project.issuer).replaceAll('{tenant}', project.tenant).replaceAll('{project}', project.name);
}

/**
 * The Patient a Membership links, for a standalone launch.
 * @param store - the resource store
 * @param project - the project key
 * @param membershipId - the Membership the user signed in with
 * @returns the Patient id, or undefined when the Membership links no Patient
 */
export async function linkedPatient(store: ResourceStore, project: string, membershipId: string): Promise<string | undefined> {
  const doc = await store.readCurrent(project, 'Membership', membershipId);
  const reference = doc && !doc.deleted ? referenceOf(doc.resource?.link) : undefined;
  const match = reference !== undefined ? RELATIVE_REFERENCE.exec(reference) : null;
  return match && match[1] === 'Patient' ? match[2] : undefined;
}
