/**
 * The CapabilityStatement served at `[base]/metadata` (public). Generated from what the server implements:
 * every resource type it knows (R4 plus the project's auth types) with the interactions the router serves,
 * the `$evaluate-policy` operation, the Bulk Data `$export` operations (`instantiates` the Bulk Data
 * CapabilityStatement), and `rest.security` as SMART App Launch 2.x asks (§2.2 "Discovery via
 * CapabilityStatement"): the SMART-on-FHIR service coding, `cors: true` and the `oauth-uris` extension carrying
 * the same endpoint URLs as the discovery documents (oauth/discovery.ts).
 * The response carries a validator, `ETag: W/"<SHA-256 of the statement's JSON>"`, so it changes whenever the
 * statement does (a new build, a new start since `date` is the start time); `If-None-Match` naming it (or `*`)
 * answers 304 without a body (RFC 9110 §13.1.2, weak comparison). `Cache-Control: no-cache` lets a client keep a
 * copy and revalidate it. https://hl7.org/fhir/R4/capabilitystatement.html
 */
import { createHash } from 'node:crypto';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceSearchParam,
  CapabilityStatementRestSecurity,
} from 'fhir/r4';
import { type OAuthEndpoints, oauthEndpoints } from '../../oauth/discovery';
import { oauthProjectOf } from '../../oauth/project';
import { getSearchParameters, PROJECT_RESOURCE_TYPES, RESOURCE_TYPES } from '../definitions';
import type { FhirContext, FhirRequest } from './fhir-request';
import type { FhirResponse } from './respond';

/** Software identity reported in the CapabilityStatement. */
export const SOFTWARE = { name: 'fhir-smart-server', version: '0.1.0' };

/** Type-level interactions served for every resource type. */
export const TYPE_INTERACTIONS = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'create',
  'search-type',
] as const;

const PROJECT_PROFILE_BASE = 'https://fhir-server.dev/StructureDefinition/';

/** Canonical of the `$evaluate-policy` operation (POST [base]/$evaluate-policy, docs/access-policies.md). */
export const EVALUATE_POLICY_DEFINITION = 'https://fhir-server.dev/OperationDefinition/evaluate-policy';

/** The Bulk Data Access CapabilityStatement this server instantiates (https://hl7.org/fhir/uv/bulkdata/STU2/CapabilityStatement-bulk-data.html). */
export const BULK_DATA_CAPABILITY = 'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data';
/** The Bulk Data export operations, by where they are invoked (docs/bulk-export.md). */
export const BULK_EXPORT_DEFINITIONS = {
  system: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export',
  Patient: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
  Group: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
} as const;

/** The SMART `oauth-uris` extension (https://hl7.org/fhir/smart-app-launch/conformance.html). */
export const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/**
 * `rest.security`: the SMART-on-FHIR service, CORS, and the OAuth endpoints.
 * @param urls - the project's OAuth endpoint URLs
 * @returns the security element
 */
export function smartSecurity(urls: OAuthEndpoints): CapabilityStatementRestSecurity {
  return {
    cors: true,
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
        text: 'OAuth 2.0 bearer tokens per SMART App Launch 2.x',
      },
    ],
    extension: [
      {
        url: OAUTH_URIS_EXTENSION,
        extension: [
          { url: 'authorize', valueUri: urls.authorization },
          { url: 'token', valueUri: urls.token },
          { url: 'introspect', valueUri: urls.introspection },
          { url: 'revoke', valueUri: urls.revocation },
        ],
      },
    ],
  };
}

function searchParams(type: string, only: (base: readonly string[]) => boolean = () => true): CapabilityStatementRestResourceSearchParam[] {
  return getSearchParameters(type)
    .filter((p) => (p.expression || p.code === '_id' || p.code === '_lastUpdated') && only(p.base as readonly string[]))
    .map((p) => ({ name: p.code, definition: p.url, type: p.type }));
}

function referenceCodes(type: string): string[] {
  return getSearchParameters(type)
    .filter((p) => p.type === 'reference' && p.expression)
    .map((p) => p.code);
}

/** `_revinclude` values per target type: `Source:param` for every reference parameter that may point at it. */
function revIncludesByTarget(): Map<string, string[]> {
  const byTarget = new Map<string, string[]>();
  for (const source of RESOURCE_TYPES) {
    for (const param of getSearchParameters(source)) {
      if (param.type !== 'reference' || !param.expression) continue;
      const targets = (param.target ?? []) as readonly string[];
      for (const target of targets.includes('Resource') ? RESOURCE_TYPES : targets) {
        const list = byTarget.get(target) ?? [];
        list.push(`${source}:${param.code}`);
        byTarget.set(target, list);
      }
    }
  }
  return byTarget;
}

function resourceEntry(type: string, revIncludes: Map<string, string[]>): CapabilityStatementRestResource {
  return {
    // The project's auth types are not R4 names, so the generated R4 type union does not list them.
    type: type as CapabilityStatementRestResource['type'],
    ...(PROJECT_RESOURCE_TYPES.has(type) ? { profile: `${PROJECT_PROFILE_BASE}${type}` } : {}),
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'full-support',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    searchInclude: ['*', ...referenceCodes(type).map((code) => `${type}:${code}`)],
    searchRevInclude: [...new Set(revIncludes.get(type) ?? [])].sort(),
    searchParam: searchParams(type),
    ...(type === 'Patient' || type === 'Group' ? { operation: [{ name: 'export', definition: BULK_EXPORT_DEFINITIONS[type] }] } : {}),
  };
}

/**
 * Builds the CapabilityStatement for one project's FHIR base.
 * @param baseUrl - the absolute FHIR base URL
 * @param date - when the server started (the statement's date)
 * @param urls - the project's OAuth endpoint URLs
 * @returns the CapabilityStatement
 */
export function buildCapabilityStatement(baseUrl: string, date: string, urls: OAuthEndpoints): CapabilityStatement {
  const revIncludes = revIncludesByTarget();
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: SOFTWARE.name,
    kind: 'instance',
    instantiates: [BULK_DATA_CAPABILITY],
    software: { name: SOFTWARE.name, version: SOFTWARE.version },
    implementation: { description: 'FHIR R4 server with SMART on FHIR and FHIRPath access policies', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: smartSecurity(urls),
        resource: [...RESOURCE_TYPES].sort().map((type) => resourceEntry(type, revIncludes)),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }, { code: 'search-system' }],
        searchParam: [
          { name: '_type', type: 'token', documentation: 'System search: the resource types to search (comma-separated)' },
          // The Resource-level parameters (`_id`, `_lastUpdated`, `_tag`, ...), valid for every type.
          ...searchParams('Patient', (base) => base.includes('Resource')),
        ],
        operation: [
          { name: 'evaluate-policy', definition: EVALUATE_POLICY_DEFINITION },
          { name: 'export', definition: BULK_EXPORT_DEFINITIONS.system },
        ],
      },
    ],
  };
}

/** A statement ready to send: the resource and its validator. */
interface BuiltStatement {
  body: Record<string, unknown>;
  etag: string;
}

/** Statements already built, per FHIR base URL (they only differ by URL). */
const statements = new Map<string, BuiltStatement>();
const STARTED_AT = new Date().toISOString();

function buildStatement(ctx: FhirContext): BuiltStatement {
  const urls = oauthEndpoints(oauthProjectOf(ctx.config.publicUrl, ctx.project));
  const body = buildCapabilityStatement(ctx.baseUrl, STARTED_AT, urls) as unknown as Record<string, unknown>;
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
  return { body, etag: `W/"${digest}"` };
}

/**
 * Whether an `If-None-Match` list names a validator (weak comparison: `W/` is ignored on both sides).
 * @param header - the If-None-Match value
 * @param etag - the current validator
 * @returns true for `*` or a matching tag
 */
function ifNoneMatchHolds(header: string, etag: string): boolean {
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === opaque;
  });
}

/** `GET [base]/metadata` (304 when `If-None-Match` names the current statement). */
export async function capabilitiesHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  let statement = statements.get(ctx.baseUrl);
  if (!statement) {
    statement = buildStatement(ctx);
    statements.set(ctx.baseUrl, statement);
  }
  const headers = { ETag: statement.etag, 'Cache-Control': 'no-cache' };
  const { ifNoneMatch } = req.headers;
  if (ifNoneMatch !== undefined && ifNoneMatchHolds(ifNoneMatch, statement.etag)) return { status: 304, headers };
  return { status: 200, body: statement.body, headers };
}
