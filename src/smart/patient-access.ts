/**
 * What a signed-in user may see of the project's patients, before any token exists (the patient picker of a
 * standalone launch, docs/smart.md "Standalone launch and the patient picker"):
 * - judged by the user's AccessPolicies through the access-controlled repository (owners and admins see all);
 * - no SMART scope narrows it (there is no token yet; the token's scopes apply later, on the FHIR API);
 * - searches use FHIR search semantics (`name`: string prefix, `birthdate`: date), reads answer undefined for a
 *   patient the user may not read (the same as for one that does not exist).
 */
import { callerContext } from '../fhir/access/caller-context';
import { FhirError } from '../fhir/errors';
import { isValidId, type Resource } from '../fhir/repository/repository';
import type { FhirContext } from '../fhir/rest/fhir-request';
import { executeSearch } from '../fhir/search/execute';
import type { OAuthDeps } from '../oauth/deps';
import type { PolicyRequest } from '../policy/types';

/** At most this many patients are listed. */
export const PICKER_LIMIT = 20;

/** The user the patients are judged for. */
export interface PatientViewer {
  /** `tenant/project` */
  project: string;
  userId: string;
  membershipId?: string;
}

/** Search criteria of the picker (each optional, at least one given). */
export interface PatientCriteria {
  name?: string;
  birthdate?: string;
}

async function userContext(deps: OAuthDeps, viewer: PatientViewer, request: PolicyRequest): Promise<FhirContext> {
  const claims = { project: viewer.project, userId: viewer.userId, ...(viewer.membershipId !== undefined ? { membershipId: viewer.membershipId } : {}), scopes: [] };
  // No scopes: the user's own access, not a token's.
  const ctx = await callerContext(deps, viewer.project, claims, request);
  if (!ctx) throw new Error(`unknown project ${viewer.project}`);
  return ctx;
}

/**
 * The patients matching the criteria that the user may read, at most {@link PICKER_LIMIT}.
 * @param deps - OAuth dependencies
 * @param viewer - the signed-in user
 * @param criteria - name prefix and/or birth date (FHIR search values)
 * @returns the patients, or the search's error message when the criteria are invalid
 */
export async function searchPatientsForUser(deps: OAuthDeps, viewer: PatientViewer, criteria: PatientCriteria): Promise<{ patients: Resource[] } | { error: string }> {
  const query: Array<[string, string]> = [];
  if (criteria.name) query.push(['name', criteria.name]);
  if (criteria.birthdate) query.push(['birthdate', criteria.birthdate]);
  query.push(['_count', String(PICKER_LIMIT)], ['_total', 'none']);
  const ctx = await userContext(deps, viewer, { interaction: 'search-type', resourceType: 'Patient', parameters: query.map(([name, value]) => ({ name, value })) });
  try {
    const result = await executeSearch(ctx, { types: ['Patient'] }, query, { strict: true });
    return { patients: result.page.entries.slice(0, PICKER_LIMIT).map((e) => e.doc.resource as Resource) };
  } catch (err) {
    if (err instanceof FhirError && err.status < 500) return { error: 'The search could not be run. Check the name and the birth date (YYYY-MM-DD).' };
    throw err;
  }
}

/**
 * A patient the user may read.
 * @param deps - OAuth dependencies
 * @param viewer - the signed-in user
 * @param id - the Patient id
 * @returns the patient, or undefined when it does not exist or the user may not read it
 */
export async function readPatientForUser(deps: OAuthDeps, viewer: PatientViewer, id: string): Promise<Resource | undefined> {
  if (!isValidId(id)) return undefined;
  const ctx = await userContext(deps, viewer, { interaction: 'read', resourceType: 'Patient', id, parameters: [] });
  try {
    return (await ctx.repo.read('Patient', id)).resource;
  } catch (err) {
    if (err instanceof FhirError) return undefined;
    throw err;
  }
}
