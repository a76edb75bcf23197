/** Resolves the project named in an OAuth URL and the absolute URLs derived from it. */
import type { Request } from 'express';
import { fhirBaseUrl } from '../fhir/rest/base-url';
import type { Project } from '../tenancy/projects';
import type { OAuthDeps } from './deps';
import { UnknownProjectError } from './errors';

/** The project of an OAuth request. */
export interface OAuthProject {
  /** `tenant/project`, the storage key. */
  key: string;
  tenant: string;
  project: string;
  /** `{PUBLIC_URL}/w/{tenant}/{project}` */
  issuer: string;
  /** The project's FHIR base URL (the audience of its access tokens). */
  fhirBase: string;
  /** `{issuer}/api/v1/oauth` */
  oauthBase: string;
}

/**
 * The project for a tenant and project name.
 * @param deps - OAuth dependencies
 * @param tenant - tenant slug
 * @param name - project slug
 * @returns the project, or undefined when unknown
 */
export async function findProject(deps: OAuthDeps, tenant: string, name: string): Promise<OAuthProject | undefined> {
  const found = await deps.projects.find(tenant, name);
  return found ? oauthProjectOf(deps.config.publicUrl, found) : undefined;
}

/**
 * The OAuth view of a known project.
 * @param publicUrl - PUBLIC_URL
 * @param found - the project
 * @returns its keys and URLs
 */
export function oauthProjectOf(publicUrl: string, found: Project): OAuthProject {
  const issuer = `${publicUrl}/w/${found.tenant}/${found.name}`;
  return {
    key: found.key,
    tenant: found.tenant,
    project: found.name,
    issuer,
    fhirBase: fhirBaseUrl(publicUrl, found.tenant, found.name),
    oauthBase: `${issuer}/api/v1/oauth`,
  };
}

/**
 * The project named by the request's `:tenant` and `:project` route parameters.
 * @param deps - OAuth dependencies
 * @param req - the request
 * @returns the project
 * @throws UnknownProjectError (404 `not_found`) for an unknown tenant or project
 */
export async function resolveProject(deps: OAuthDeps, req: Request): Promise<OAuthProject> {
  const found = await findProject(deps, String(req.params.tenant), String(req.params.project));
  if (!found) throw new UnknownProjectError();
  return found;
}
