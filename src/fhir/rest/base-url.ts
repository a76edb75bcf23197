/** The FHIR base path and URLs of a project (DESIGN §2). */

/** The FHIR base path pattern (Express 5 syntax). */
export const FHIR_BASE_PATH = '/w/:tenant/:project/api/v1/fhir/r4';

/** Request paths at or under a FHIR base. */
export const FHIR_PATH = /^\/w\/[^/]+\/[^/]+\/api\/v1\/fhir\/r4(?:\/|$)/;

/**
 * The absolute FHIR base URL of a project.
 * @param publicUrl - PUBLIC_URL
 * @param tenant - tenant slug
 * @param project - project slug
 * @returns the base URL
 */
export function fhirBaseUrl(publicUrl: string, tenant: string, project: string): string {
  return `${publicUrl}/w/${tenant}/${project}/api/v1/fhir/r4`;
}
