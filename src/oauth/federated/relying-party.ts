/**
 * This server as an OpenID Connect relying party of an IdentityProvider, through openid-client 6 (panva): the
 * library builds the authorization URL and, on the callback, checks the authorization response (state, `iss`
 * when the provider supports RFC 9207, error), redeems the code with PKCE, and validates the id_token (signature
 * against the provider's JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`, and the one algorithm the IdentityProvider
 * allows). Every request the library makes goes through the guarded fetch (address policy, no redirects,
 * deadline, size cap: the ALLOW_HTTP_JWKS_URI / JWKS_* settings), never a connection of its own.
 *
 * Cached per provider version: the server metadata (discovery, for an hour; a failure for 30 seconds)
 * and the JWKS (openid-client's cache, refetched when a token names an unknown key).
 */
import { webcrypto } from 'node:crypto';
import type * as Oidc from 'openid-client';
import type { Config } from '../../config/schema';
import { openResourceSecret, resourceSecretsFor, secretAad } from '../../fhir/repository/resource-secrets';
import { AddressPolicy } from '../../security/address-policy';
import { type GuardedFetch, guardedFetch } from '../../security/guarded-fetch';
import type { ResourceStore } from '../../storage/ports';
import type { KeyStore } from '../tokens/keys';
import type { FederatedProvider } from './providers';

// openid-client 6 is published as ESM only; Node >= 20.19 loads it with require(), jest compiles it (jest.config.js).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const oidc = require('openid-client') as typeof Oidc;

const METADATA_TTL_MS = 3600_000;
/** A failed discovery is remembered this long, so a broken provider does not slow every sign-in page. */
const FAILURE_MEMORY_MS = 30_000;
const MAX_CACHED = 1000;

/** A provider's configuration could not be obtained (discovery failed, secret missing). */
export class ProviderUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProviderUnavailableError';
  }
}

interface CachedMetadata {
  metadata: Promise<Oidc.ServerMetadata>;
  expiresAt: number;
  jwks?: Oidc.ExportedJWKSCache;
}

/** The relying-party side of every project's IdentityProviders. */
export class RelyingParties {
  private readonly cache = new Map<string, CachedMetadata>();
  private readonly fetch: GuardedFetch;
  private readonly allowHttp: boolean;

  /**
   * @param config - the outbound request settings (ALLOW_HTTP_JWKS_URI, JWKS_ALLOWED_HOSTS, JWKS_MAX_BYTES, JWKS_TIMEOUT_MS)
   * @param resources - the resource store (its registered key-encryption keys open client secrets)
   * @param keys - the project signing keys (private_key_jwt)
   */
  constructor(
    config: Config,
    private readonly resources: ResourceStore,
    private readonly keys: KeyStore,
  ) {
    this.allowHttp = config.allowHttpJwksUri === 'loopback';
    this.fetch = guardedFetch({
      policy: new AddressPolicy({ allowLoopback: this.allowHttp, allowedHosts: config.jwksAllowedHosts }),
      allowHttpLoopback: this.allowHttp,
      maxBytes: config.jwksMaxBytes,
      timeoutMs: config.jwksTimeoutMs,
    });
  }

  private cacheKey(project: string, provider: FederatedProvider): string {
    return `${project}|${provider.id}|${provider.versionId}`;
  }

  private entry(project: string, provider: FederatedProvider): CachedMetadata {
    const key = this.cacheKey(project, provider);
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached;
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    const entry: CachedMetadata = { metadata: this.loadMetadata(provider), expiresAt: now + METADATA_TTL_MS };
    entry.metadata.catch(() => {
      entry.expiresAt = Date.now() + FAILURE_MEMORY_MS;
    });
    this.cache.set(key, entry);
    return entry;
  }

  private async loadMetadata(provider: FederatedProvider): Promise<Oidc.ServerMetadata> {
    if (provider.endpoints) {
      return {
        issuer: provider.issuer,
        authorization_endpoint: provider.endpoints.authorization,
        token_endpoint: provider.endpoints.token,
        jwks_uri: provider.endpoints.jwks,
        ...(provider.endpoints.userinfo ? { userinfo_endpoint: provider.endpoints.userinfo } : {}),
      };
    }
    try {
      const discovered = await oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, oidc.None(), {
        [oidc.customFetch]: this.fetch,
        ...(this.allowHttp ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      return { ...discovered.serverMetadata() };
    } catch (err) {
      throw new ProviderUnavailableError(`discovery of ${provider.issuer} failed`, { cause: err });
    }
  }

  /**
   * The provider's authorization endpoint (discovering it when needed).
   * @param project - the project key
   * @param provider - the provider
   * @returns the URL
   */
  async authorizationEndpoint(project: string, provider: FederatedProvider): Promise<string> {
    const metadata = await this.entry(project, provider).metadata;
    if (!metadata.authorization_endpoint) throw new ProviderUnavailableError(`${provider.issuer} has no authorization endpoint`);
    return metadata.authorization_endpoint;
  }

  /**
   * The openid-client configuration of one flow: server metadata, client id, the id_token algorithm allowed, and
   * the client authentication (the client secret is opened here, for this request only).
   * @param project - the project key
   * @param provider - the provider
   * @returns the configuration
   */
  async configuration(project: string, provider: FederatedProvider): Promise<Oidc.Configuration> {
    const entry = this.entry(project, provider);
    const metadata = await entry.metadata;
    const config = new oidc.Configuration(metadata, provider.clientId, { id_token_signed_response_alg: provider.idTokenAlg }, await this.clientAuth(project, provider));
    config[oidc.customFetch] = this.fetch;
    if (this.allowHttp) oidc.allowInsecureRequests(config);
    // Verify the id_token's signature against the provider's JWKS even though it comes straight from the token
    // endpoint (OIDC Core §3.1.3.7 would let TLS stand in for it; a provider's key is the stronger proof).
    oidc.enableNonRepudiationChecks(config);
    if (entry.jwks) oidc.setJwksCache(config, entry.jwks);
    return config;
  }

  /**
   * Keeps the JWKS openid-client fetched during a flow for the next flows of the same provider version.
   * @param project - the project key
   * @param provider - the provider
   * @param config - the configuration used
   */
  keepJwks(project: string, provider: FederatedProvider, config: Oidc.Configuration): void {
    const jwks = oidc.getJwksCache(config);
    const cached = this.cache.get(this.cacheKey(project, provider));
    if (jwks && cached) cached.jwks = jwks;
  }

  private async clientAuth(project: string, provider: FederatedProvider): Promise<Oidc.ClientAuth> {
    if (provider.tokenEndpointAuthMethod === 'private_key_jwt') {
      const key = await this.keys.activeKey(project);
      const jwk = await webcrypto.subtle.exportKey('jwk', key.privateKey as webcrypto.CryptoKey).catch(() => undefined);
      const exported = jwk ?? (key.privateKey as import('node:crypto').KeyObject).export({ format: 'jwk' });
      const cryptoKey = await webcrypto.subtle.importKey('jwk', exported as webcrypto.JsonWebKey, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
      return oidc.PrivateKeyJwt({ key: cryptoKey as unknown as Oidc.CryptoKey, kid: key.kid });
    }
    const secrets = resourceSecretsFor(this.resources);
    const secret = secrets ? openResourceSecret(secrets, provider.sealedSecret, secretAad(project, 'IdentityProvider', provider.id, 'clientSecret')) : undefined;
    if (secret === undefined) throw new ProviderUnavailableError(`IdentityProvider/${provider.id} has no usable clientSecret`);
    return provider.tokenEndpointAuthMethod === 'client_secret_post' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
  }

  /** The library, for the flow steps. */
  get lib(): typeof Oidc {
    return oidc;
  }
}
