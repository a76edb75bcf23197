/**
 * The only place `fhir-smart` reads its environment (the server's variables are read by src/config):
 * - `XDG_CONFIG_HOME` (default `~/.config`): profiles live in `$XDG_CONFIG_HOME/fhir-smart/profiles.json`;
 * - `FHIR_SMART_PROFILE`, `FHIR_SMART_SERVER`, `FHIR_SMART_TENANT`, `FHIR_SMART_PROJECT`: defaults of the global
 *   `--profile`, `--server`, `--tenant`, `--project` options;
 * - `FHIR_SMART_TOKEN`: an access token used as is (no profile needed; never refreshed, never stored);
 * - `FHIR_SMART_CLIENT_ID`, `FHIR_SMART_CLIENT_SECRET`: `login --client-credentials` without the options.
 */
import os from 'node:os';
import path from 'node:path';

/** The variables `fhir-smart` reads. */
export interface CliEnvironment {
  configDir: string;
  profile?: string;
  server?: string;
  tenant?: string;
  project?: string;
  token?: string;
  clientId?: string;
  clientSecret?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Reads the environment.
 * @param env - the process environment
 * @returns the values `fhir-smart` uses
 */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
  return {
    configDir: path.join(base, 'fhir-smart'),
    profile: nonEmpty(env.FHIR_SMART_PROFILE),
    server: nonEmpty(env.FHIR_SMART_SERVER),
    tenant: nonEmpty(env.FHIR_SMART_TENANT),
    project: nonEmpty(env.FHIR_SMART_PROJECT),
    token: nonEmpty(env.FHIR_SMART_TOKEN),
    clientId: nonEmpty(env.FHIR_SMART_CLIENT_ID),
    clientSecret: nonEmpty(env.FHIR_SMART_CLIENT_SECRET),
  };
}
