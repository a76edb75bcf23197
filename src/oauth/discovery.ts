/**
 * Discovery, one set of documents per project, every URL absolute and computed once ({@link oauthEndpoints}):
 * - OpenID Connect Discovery 1.0 and RFC 8414 metadata at `/.well-known/openid-configuration/w/{t}/{p}`,
 *   `/w/{t}/{p}/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server/w/{t}/{p}`
 *   (identical content);
 * - SMART App Launch 2.x configuration at `{FHIR base}/.well-known/smart-configuration`
 *   (https://hl7.org/fhir/smart-app-launch/conformance.html), always `application/json`;
 * - the same endpoint URLs feed the CapabilityStatement's `oauth-uris` extension (fhir/rest/capabilities.ts).
 */
import type { Request, Response } from 'express';
import { ASSERTION_ALGS, AUTH_METHODS } from './clients/client-auth';
import type { OAuthDeps } from './deps';
import { DPOP_ALGS } from './errors';
import { SUPPORTED_GRANT_TYPES } from './grants';
import { type OAuthProject, resolveProject } from './project';
import { REQUEST_OBJECT_ALGS } from './requests/request-object';
import { SIGNING_ALG } from './tokens/keys';

/** Scopes the server understands (besides the resource scopes a client registers). */
export const SUPPORTED_SCOPES = ['openid', 'fhirUser', 'profile', 'email', 'offline_access', 'online_access'];

/** SMART launch context scopes. */
export const LAUNCH_SCOPES = ['launch', 'launch/patient', 'launch/encounter'];

/**
 * The SMART resource scopes advertised in `scopes_supported`: the wildcard forms of v2 (`cruds`, and `rs` for
 * read-only apps) and v1 (`read`, `write`, `*`) for each context. Narrower scopes (one type, a subset of the
 * letters, search-parameter restrictions) are understood too; the list shows the shapes, not every combination.
 */
export const SMART_RESOURCE_SCOPES = ['patient', 'user', 'system'].flatMap((context) =>
  ['cruds', 'rs', 'read', 'write', '*'].map((permissions) => `${context}/*.${permissions}`),
);

/**
 * SMART App Launch capabilities (https://hl7.org/fhir/smart-app-launch/conformance.html#capabilities).
 * Some of them (EHR and standalone launch, their context and the passthrough values) are delivered by the launch
 * features of the authorize endpoint.
 */
export const SMART_CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'authorize-post',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'context-passthrough-banner',
  'context-passthrough-style',
  'context-ehr-patient',
  'context-ehr-encounter',
  'context-standalone-patient',
  'sso-openid-connect',
  'permission-offline',
  'permission-online',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
] as const;

/** The absolute endpoint URLs of a project's authorization server. */
export interface OAuthEndpoints {
  authorization: string;
  token: string;
  jwks: string;
  userinfo: string;
  introspection: string;
  revocation: string;
  endSession: string;
  pushedAuthorizationRequest: string;
  registration: string;
}

/**
 * The endpoint URLs of a project; every document and the CapabilityStatement take them from here.
 * @param project - the project
 * @returns the URLs
 */
export function oauthEndpoints(project: Pick<OAuthProject, 'oauthBase'>): OAuthEndpoints {
  const oauth = project.oauthBase;
  return {
    authorization: `${oauth}/authorize`,
    token: `${oauth}/token`,
    jwks: `${oauth}/jwks`,
    userinfo: `${oauth}/userinfo`,
    introspection: `${oauth}/introspect`,
    revocation: `${oauth}/revoke`,
    endSession: `${oauth}/logout`,
    pushedAuthorizationRequest: `${oauth}/par`,
    registration: `${oauth}/register`,
  };
}

/** Server-wide settings the documents reflect. */
export interface DiscoveryOptions {
  /** REQUIRE_PUSHED_AUTHORIZATION_REQUESTS */
  requirePushedAuthorizationRequests?: boolean;
}

/**
 * The metadata document of a project.
 * @param project - the project
 * @param options - server-wide settings
 * @returns the document
 */
export function discoveryDocument(project: OAuthProject, options: DiscoveryOptions = {}): Record<string, unknown> {
  const urls = oauthEndpoints(project);
  return {
    issuer: project.issuer,
    authorization_endpoint: urls.authorization,
    token_endpoint: urls.token,
    jwks_uri: urls.jwks,
    userinfo_endpoint: urls.userinfo,
    introspection_endpoint: urls.introspection,
    revocation_endpoint: urls.revocation,
    end_session_endpoint: urls.endSession,
    pushed_authorization_request_endpoint: urls.pushedAuthorizationRequest,
    require_pushed_authorization_requests: options.requirePushedAuthorizationRequests === true,
    registration_endpoint: urls.registration,
    scopes_supported: SUPPORTED_SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    prompt_values_supported: ['none', 'login', 'consent'],
    grant_types_supported: [...SUPPORTED_GRANT_TYPES],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((m) => m !== 'none'),
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    code_challenge_methods_supported: ['S256'],
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'fhirUser', 'email', 'name'],
    authorization_response_iss_parameter_supported: true,
    // Request objects by value (RFC 9101 `request`); by reference only as PAR request_uris, never fetched URLs.
    request_parameter_supported: true,
    request_uri_parameter_supported: false,
    request_object_signing_alg_values_supported: [...REQUEST_OBJECT_ALGS],
  };
}

/**
 * The SMART configuration of a project (`{FHIR base}/.well-known/smart-configuration`). `management_endpoint`
 * (where users manage the apps they authorized) is left out: the server has no such page yet.
 * @param project - the project
 * @returns the document
 */
export function smartConfiguration(project: OAuthProject): Record<string, unknown> {
  const urls = oauthEndpoints(project);
  return {
    issuer: project.issuer,
    jwks_uri: urls.jwks,
    authorization_endpoint: urls.authorization,
    token_endpoint: urls.token,
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    grant_types_supported: [...SUPPORTED_GRANT_TYPES],
    scopes_supported: [...new Set([...SUPPORTED_SCOPES, ...LAUNCH_SCOPES, ...SMART_RESOURCE_SCOPES])],
    response_types_supported: ['code'],
    userinfo_endpoint: urls.userinfo,
    introspection_endpoint: urls.introspection,
    revocation_endpoint: urls.revocation,
    code_challenge_methods_supported: ['S256'],
    pushed_authorization_request_endpoint: urls.pushedAuthorizationRequest,
    registration_endpoint: urls.registration,
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    capabilities: [...SMART_CAPABILITIES],
  };
}

/**
 * Serves the SMART configuration for `:tenant`/`:project`: public, `application/json` whatever `Accept` says
 * (SMART App Launch §2.1), cacheable for 5 minutes like the other discovery documents.
 * @param deps - OAuth dependencies
 * @returns the handler
 */
export function smartConfigurationHandler(deps: OAuthDeps) {
  return async function smartConfigurationStep(req: Request, res: Response): Promise<void> {
    const project = await resolveProject(deps, req);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(JSON.stringify(smartConfiguration(project)));
  };
}

/**
 * Serves the document for `:tenant`/`:project`.
 * @param deps - OAuth dependencies
 * @returns the handler
 */
export function discoveryHandler(deps: OAuthDeps) {
  return async function discoveryStep(req: Request, res: Response): Promise<void> {
    const project = await resolveProject(deps, req);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(discoveryDocument(project, { requirePushedAuthorizationRequests: deps.config.requirePushedAuthorizationRequests }));
  };
}
