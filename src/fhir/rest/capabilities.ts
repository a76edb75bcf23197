/**
 * The CapabilityStatement served at `[base]/metadata` (public). Generated from what the server implements:
 * every resource type it knows (R4 plus the project's auth types) with the interactions the router serves.
 * https://hl7.org/fhir/R4/capabilitystatement.html
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import { PROJECT_RESOURCE_TYPES, RESOURCE_TYPES } from '../definitions';
import type { FhirContext } from './fhir-request';
import type { FhirResponse } from './respond';

/** Software identity reported in the CapabilityStatement. */
export const SOFTWARE = { name: 'fhir-smart-server', version: '0.1.0' };

/** Type-level interactions served for every resource type. */
export const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create'] as const;

const PROJECT_PROFILE_BASE = 'https://fhir-server.dev/StructureDefinition/';

function resourceEntry(type: string): CapabilityStatementRestResource {
  return {
    // The project's auth types are not R4 names, so the generated R4 type union does not list them.
    type: type as CapabilityStatementRestResource['type'],
    ...(PROJECT_RESOURCE_TYPES.has(type) ? { profile: `${PROJECT_PROFILE_BASE}${type}` } : {}),
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: false,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
  };
}

/**
 * Builds the CapabilityStatement for one project's FHIR base.
 * @param baseUrl - the absolute FHIR base URL
 * @param date - when the server started (the statement's date)
 * @returns the CapabilityStatement
 */
export function buildCapabilityStatement(baseUrl: string, date: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: SOFTWARE.name,
    kind: 'instance',
    software: { name: SOFTWARE.name, version: SOFTWARE.version },
    implementation: { description: 'FHIR R4 server with SMART on FHIR and FHIRPath access policies', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        resource: [...RESOURCE_TYPES].sort().map(resourceEntry),
        interaction: [{ code: 'history-system' }],
      },
    ],
  };
}

/** Statements already built, per FHIR base URL (they only differ by URL). */
const statements = new Map<string, Record<string, unknown>>();
const STARTED_AT = new Date().toISOString();

/** `GET [base]/metadata` */
export async function capabilitiesHandler(ctx: FhirContext): Promise<FhirResponse> {
  let statement = statements.get(ctx.baseUrl);
  if (!statement) {
    statement = buildCapabilityStatement(ctx.baseUrl, STARTED_AT) as unknown as Record<string, unknown>;
    statements.set(ctx.baseUrl, statement);
  }
  return { status: 200, body: statement };
}
