/** What the authorization server needs from the rest of the application. */
import type { DecisionListener } from '../audit/events';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { RemoteJwks } from '../security/remote-jwks';
import type { Storage } from '../storage/ports';
import type { ProjectRegistry } from '../tenancy/projects';

/** Dependencies of the OAuth routers and services. */
export interface OAuthDeps {
  config: Config;
  storage: Storage;
  projects: ProjectRegistry;
  logger: Logger;
  /** The remote key sets of `private_key_jwt` clients (`jwksUri`), fetched under the JWKS_* limits. */
  remoteJwks: RemoteJwks;
  /** Where the authorization server's security events go (docs/audit.md). */
  audit: DecisionListener;
}
