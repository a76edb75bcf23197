/**
 * The client as the authorization endpoint and the interaction pages see it: the stored ClientApplication
 * (read through CORE's `loadClient`, without its secret) reduced to the fields they use, with the full resource
 * kept for `grantScopes`.
 */
import { type ClientApplication, loadClient } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import type { AuthorizeClient } from './authorize-request';

/**
 * Reads a stored ClientApplication as the authorization endpoint needs it.
 * @param deps - the OAuth dependencies
 * @param project - the project key
 * @param clientId - the client_id
 * @returns the client and the stored resource, or undefined when unknown
 */
export async function loadAuthorizeClient(
  deps: OAuthDeps,
  project: string,
  clientId: string,
): Promise<{ client: AuthorizeClient; resource: ClientApplication } | undefined> {
  const resource = await loadClient(deps, project, clientId);
  if (!resource) return undefined;
  const r = resource as unknown as Record<string, unknown>;
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
  const client: AuthorizeClient = {
    id: clientId,
    status: typeof r.status === 'string' ? r.status : 'active',
    grantType: strings(r.grantType),
    redirectUri: strings(r.redirectUri),
    ...(typeof r.name === 'string' ? { name: r.name } : {}),
    ...(typeof r.scope === 'string' ? { scope: r.scope } : {}),
    ...(typeof r.consentRequired === 'boolean' ? { consentRequired: r.consentRequired } : {}),
  };
  return { client, resource };
}
