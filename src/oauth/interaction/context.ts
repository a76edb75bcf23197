/**
 * What every interaction handler works with: the OAuth dependencies, the project of the request (its key and
 * issuer), the project's OAuth base path (where the pages live and the cookies are scoped), cookie settings,
 * and the limits from the configuration.
 */
import type { Request } from 'express';
import type { OAuthDeps } from '../deps';
import { resolveProject } from '../project';
import type { CookieScope } from './cookies';

/** The project as the pages need it. */
export interface InteractionProject {
  /** `tenant/project`, the storage key. */
  key: string;
  /** `{PUBLIC_URL}/w/{tenant}/{project}`, also the `iss` of authorization responses (RFC 9207). */
  issuer: string;
}

/** Per-request context of the interaction endpoints. */
export interface InteractionContext {
  deps: OAuthDeps;
  project: InteractionProject;
  /** `/w/{tenant}/{project}/api/v1/oauth` (path only). */
  basePath: string;
  cookies: CookieScope;
  /** The URL path of a page, with the interaction id when given. */
  pageUrl(page: 'login' | 'consent' | 'patient-picker' | 'logout', interactionId?: string): string;
}

/**
 * Builds the context for a request under `/w/:tenant/:project/api/v1/oauth`.
 * @param deps - the OAuth dependencies
 * @param req - the request
 * @returns the context
 * @throws when the tenant or project is unknown (rendered as 404 by the caller)
 */
export async function interactionContext(deps: OAuthDeps, req: Request): Promise<InteractionContext> {
  const resolved = await resolveProject(deps, req);
  const basePath = `/w/${resolved.tenant}/${resolved.project}/api/v1/oauth`;
  return {
    deps,
    project: { key: resolved.key, issuer: resolved.issuer },
    basePath,
    cookies: { path: basePath, secure: deps.config.publicUrl.startsWith('https:') },
    pageUrl: (page, interactionId) => `${basePath}/${page}${interactionId ? `?interaction=${encodeURIComponent(interactionId)}` : ''}`,
  };
}
