/**
 * A project's authorization-server settings: its `ProjectSettings/settings` resource (docs/projects.md "Project
 * settings") over the defaults, which are the server's configuration. Read through the policy cache of the store
 * (`derived`): loaded with one keyed read on first use, and invalidated with the project's policies on every write
 * of a ProjectSettings (locally before the write's response leaves; other instances through the write feed), so a
 * change applies to the next request.
 */
import type { Config } from '../config/schema';
import { policyCacheFor } from '../policy/cache';
import type { ResourceStore } from '../storage/ports';
import { DEFAULT_ACCESS_TOKEN_LIFETIME, DEFAULT_BACKEND_ACCESS_TOKEN_LIFETIME, DEFAULT_REFRESH_TOKEN_LIFETIME } from './clients/client-store';
import { SETTINGS_ID } from './settings-rules';

/** The effective settings of a project. */
export interface ProjectSettings {
  /** Access tokens issued for a user (s), unless the client sets its own. */
  accessTokenLifetime: number;
  /** A backend service's own (client_credentials) access tokens (s), unless the client sets its own. */
  backendAccessTokenLifetime: number;
  /** Refresh tokens (s), unless the client sets its own. */
  refreshTokenLifetime: number;
  /** id_tokens (s); undefined: as long as the access token issued with them. */
  idTokenLifetime?: number;
  /** The `smart_style_url` template (`{issuer}`, `{tenant}`, `{project}`). */
  smartStyleUrl: string;
  /** `need_patient_banner` of standalone launches. */
  needPatientBanner: boolean;
  /** Whether clients that do not say otherwise ask for consent. */
  consentRequired: boolean;
  /** Extra CORS origins. */
  allowedOrigins: readonly string[];
  /** Failed sign-ins allowed per IP and per account within the window. */
  login: { maxFailures: number; windowSeconds: number };
}

/**
 * The defaults: what the server does for a project without settings.
 * @param config - the configuration
 * @returns the settings
 */
export function defaultProjectSettings(config: Pick<Config, 'smartStyleUrl' | 'loginMaxFailures' | 'loginFailureWindowSeconds'>): ProjectSettings {
  return {
    accessTokenLifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
    backendAccessTokenLifetime: DEFAULT_BACKEND_ACCESS_TOKEN_LIFETIME,
    refreshTokenLifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
    smartStyleUrl: config.smartStyleUrl,
    needPatientBanner: true,
    consentRequired: true,
    allowedOrigins: [],
    login: { maxFailures: config.loginMaxFailures, windowSeconds: config.loginFailureWindowSeconds },
  };
}

/**
 * Applies a stored ProjectSettings resource over the defaults.
 * @param defaults - the defaults
 * @param resource - the stored resource, if any
 * @returns the effective settings
 */
export function applyProjectSettings(defaults: ProjectSettings, resource: Record<string, unknown> | undefined): ProjectSettings {
  if (!resource) return defaults;
  const number = (key: string): number | undefined => (typeof resource[key] === 'number' ? (resource[key] as number) : undefined);
  const flag = (key: string): boolean | undefined => (typeof resource[key] === 'boolean' ? (resource[key] as boolean) : undefined);
  const settings: ProjectSettings = {
    accessTokenLifetime: number('accessTokenLifetime') ?? defaults.accessTokenLifetime,
    backendAccessTokenLifetime: number('backendAccessTokenLifetime') ?? defaults.backendAccessTokenLifetime,
    refreshTokenLifetime: number('refreshTokenLifetime') ?? defaults.refreshTokenLifetime,
    smartStyleUrl: typeof resource.smartStyleUrl === 'string' ? resource.smartStyleUrl : defaults.smartStyleUrl,
    needPatientBanner: flag('needPatientBanner') ?? defaults.needPatientBanner,
    consentRequired: flag('consentRequired') ?? defaults.consentRequired,
    allowedOrigins: Array.isArray(resource.allowedOrigin) ? resource.allowedOrigin.filter((o): o is string => typeof o === 'string') : defaults.allowedOrigins,
    login: number('loginRateLimit') !== undefined ? { maxFailures: number('loginRateLimit') as number, windowSeconds: 60 } : defaults.login,
  };
  const idTokenLifetime = number('idTokenLifetime') ?? defaults.idTokenLifetime;
  if (idTokenLifetime !== undefined) settings.idTokenLifetime = idTokenLifetime;
  return settings;
}

/**
 * The effective settings of a project, cached until its next ProjectSettings (or policy) write.
 * @param store - the application's resource store
 * @param config - the configuration (the defaults)
 * @param project - the project key
 * @returns the settings
 */
export function projectSettings(store: ResourceStore, config: Config, project: string): Promise<ProjectSettings> {
  return policyCacheFor(store).derived(project, 'project-settings', async () => {
    const doc = await store.readCurrent(project, 'ProjectSettings', SETTINGS_ID);
    return applyProjectSettings(defaultProjectSettings(config), doc && !doc.deleted && doc.resource ? doc.resource : undefined);
  });
}
