/**
 * Discovery: OpenID Connect Discovery 1.0 and RFC 8414 metadata, one document per project, served at
 * `/.well-known/openid-configuration/w/{t}/{p}`, `/w/{t}/{p}/.well-known/openid-configuration` and
 * `/.well-known/oauth-authorization-server/w/{t}/{p}` (identical content; every URL absolute).
 */
import type { Request, Response } from 'express';
import { ASSERTION_ALGS, AUTH_METHODS } from './clients/client-auth';
import type { OAuthDeps } from './deps';
import { SUPPORTED_GRANT_TYPES } from './grants';
import { type OAuthProject, resolveProject } from './project';
import { SIGNING_ALG } from './tokens/keys';

/** Scopes the server understands (besides the resource scopes a client registers). */
export const SUPPORTED_SCOPES = ['openid', 'fhirUser', 'profile', 'email', 'offline_access', 'online_access'];

/**
 * The metadata document of a project.
 * @param project - the project
 * @returns the document
 */
export function discoveryDocument(project: OAuthProject): Record<string, unknown> {
  const oauth = project.oauthBase;
  return {
    issuer: project.issuer,
    authorization_endpoint: `${oauth}/authorize`,
    token_endpoint: `${oauth}/token`,
    jwks_uri: `${oauth}/jwks`,
    userinfo_endpoint: `${oauth}/userinfo`,
    introspection_endpoint: `${oauth}/introspect`,
    revocation_endpoint: `${oauth}/revoke`,
    end_session_endpoint: `${oauth}/logout`,
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
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'fhirUser', 'email', 'name'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
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
    res.json(discoveryDocument(project));
  };
}
