/**
 * The project's IdentityProviders as the sign-in sees them, read straight from the resource store (the stored
 * resource carries the sealed client secret, which never leaves the federated module). Only `status: active`
 * providers are offered or accepted; a provider switched off mid-flow stops the flow at the callback.
 */
import type { ResourceStore } from '../../storage/ports';

/** An IdentityProvider, normalized (defaults applied). */
export interface FederatedProvider {
  id: string;
  versionId: number;
  name: string;
  active: boolean;
  issuer: string;
  endpoints?: { authorization: string; token: string; jwks: string; userinfo?: string };
  clientId: string;
  /** The sealed secret as stored (opened only when the token request is made). */
  sealedSecret?: unknown;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  idTokenAlg: string;
  scope: string;
  pkce: boolean;
  emailDomains: string[];
  requiredForEmailDomains: boolean;
  userMatching: 'email' | 'sub';
  autoProvision: boolean;
  accessPolicy?: string;
  buttonLabel: string;
  logoUri?: string;
}

type Json = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function toProvider(id: string, versionId: number, r: Json): FederatedProvider {
  const name = str(r.name) ?? id;
  const button = (r.button ?? {}) as Json;
  const membership = (r.defaultMembership ?? {}) as Json;
  const authorization = str(r.authorizationEndpoint);
  const token = str(r.tokenEndpoint);
  const jwks = str(r.jwksUri);
  const userinfo = str(r.userinfoEndpoint);
  const policy = str((membership.accessPolicy as Json | undefined)?.reference);
  const logo = str(button.logoUri);
  return {
    id,
    versionId,
    name,
    active: r.status === 'active',
    issuer: str(r.issuer) ?? '',
    ...(authorization && token && jwks ? { endpoints: { authorization, token, jwks, ...(userinfo ? { userinfo } : {}) } } : {}),
    clientId: str(r.clientId) ?? '',
    ...(r.clientSecret !== undefined ? { sealedSecret: r.clientSecret } : {}),
    tokenEndpointAuthMethod: (str(r.tokenEndpointAuthMethod) ?? 'client_secret_basic') as FederatedProvider['tokenEndpointAuthMethod'],
    idTokenAlg: str(r.idTokenSignedResponseAlg) ?? 'RS256',
    scope: str(r.scope) ?? 'openid email profile',
    pkce: r.pkce !== false,
    emailDomains: Array.isArray(r.emailDomains) ? r.emailDomains.filter((d): d is string => typeof d === 'string') : [],
    requiredForEmailDomains: r.requiredForEmailDomains === true,
    userMatching: r.userMatching === 'sub' ? 'sub' : 'email',
    autoProvision: r.autoProvision === true,
    ...(policy ? { accessPolicy: policy } : {}),
    buttonLabel: str(button.label) ?? `Sign in with ${name}`,
    ...(logo ? { logoUri: logo } : {}),
  };
}

/**
 * The project's active providers, ordered by id (so a domain claimed twice always goes to the same one).
 * @param resources - the resource store
 * @param project - the project key
 * @returns the providers
 */
export async function activeProviders(resources: ResourceStore, project: string): Promise<FederatedProvider[]> {
  const docs = await resources.search({ project, type: 'IdentityProvider', deleted: false });
  return docs
    .filter((doc) => doc.resource && doc.resource.status === 'active')
    .map((doc) => toProvider(doc.id, doc.versionId, doc.resource as Json))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * One provider by id, whatever its status.
 * @param resources - the resource store
 * @param project - the project key
 * @param id - the IdentityProvider id
 * @returns the provider, or undefined when unknown or deleted
 */
export async function readProvider(resources: ResourceStore, project: string, id: string): Promise<FederatedProvider | undefined> {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) return undefined;
  const doc = await resources.readCurrent(project, 'IdentityProvider', id);
  return doc && !doc.deleted && doc.resource ? toProvider(doc.id, doc.versionId, doc.resource as Json) : undefined;
}

/**
 * The domain of an email address, lower-cased.
 * @param email - an email address
 * @returns the part after the last `@`, or undefined
 */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  const domain = at > 0 ? email.slice(at + 1).trim().toLowerCase() : '';
  return domain || undefined;
}

/**
 * The provider serving an email's domain.
 * @param providers - the active providers
 * @param email - the email
 * @returns the first provider (by id) listing the domain
 */
export function providerForEmail(providers: FederatedProvider[], email: string): FederatedProvider | undefined {
  const domain = emailDomain(email);
  return domain ? providers.find((p) => p.emailDomains.includes(domain)) : undefined;
}
