/**
 * The authorization server's routes. `oauthRouter` is mounted at `/w/{tenant}/{project}/api/v1/oauth`:
 * token, jwks, introspect, revoke, userinfo (JSON, errors per RFC 6749 §5.2) and the browser-facing authorize,
 * login, consent and logout (interaction/). `mountDiscovery` adds the well-known documents at the app level.
 */
import { RelyingParties } from './federated/relying-party';
import { type Express, type Request, type Response, Router } from 'express';
import { BearerAuthenticator } from './bearer';
import { DpopProofs } from './dpop/dpop';
import type { OAuthDeps } from './deps';
import { FHIR_BASE_PATH } from '../fhir/rest/base-url';
import { oauthRateLimit, rateLimitCounters } from '../http/rate-limit';
import { discoveryHandler, smartConfigurationHandler } from './discovery';
import { OAuthError } from './errors';
import { introspectEndpoint } from './endpoints/introspect';
import { jwksEndpoint } from './endpoints/jwks';
import { auditOutcome } from './endpoints/audit';
import { oauthJsonErrors } from './endpoints/respond';
import { revokeEndpoint } from './endpoints/revoke';
import { parEndpoint } from './endpoints/par';
import { rotateSigningKeyEndpoint, signingKeysEndpoint } from './endpoints/signing-keys';
import { tokenEndpoint } from './endpoints/token';
import { registrationRouter } from './registration/endpoint';
import { userinfoEndpoint } from './endpoints/userinfo';
import { interactionRouter } from './interaction';
import type { KeyStore } from './tokens/keys';
import { launchEndpoint } from '../smart/launch-endpoint';
import { smartStyleHandler } from '../smart/style';

/** Any other method on a JSON endpoint: 405 with `Allow`. */
function methodNotAllowed(req: Request, res: Response): void {
  res.setHeader('Allow', req.path === '/jwks' || req.path === '/keys' ? 'GET' : req.path === '/userinfo' ? 'GET, POST' : 'POST');
  throw new OAuthError('invalid_request', 405, `${req.method} is not allowed here`);
}

/** Path of the OAuth endpoints (Express syntax). */
export const OAUTH_BASE_PATH = '/w/:tenant/:project/api/v1/oauth';

/** The JSON endpoints under {@link OAUTH_BASE_PATH} (CORS-enabled; the HTML pages are not). */
export const OAUTH_JSON_ENDPOINTS = ['token', 'jwks', 'userinfo', 'introspect', 'revoke', 'launch', 'smart-style.json', 'par', 'register'] as const;

/** The OIDC and RFC 8414 discovery paths (Express syntax). */
export const DISCOVERY_PATHS = [
  '/.well-known/openid-configuration/w/:tenant/:project',
  '/w/:tenant/:project/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server/w/:tenant/:project',
];

/** The SMART configuration path, under the FHIR base (Express syntax). */
export const SMART_CONFIGURATION_PATH = `${FHIR_BASE_PATH}/.well-known/smart-configuration`;

/** The authorization server of an app: its routes and the bearer authenticator the FHIR API uses. */
export interface OAuthServer {
  router: Router;
  keys: KeyStore;
  bearer: BearerAuthenticator;
}

/**
 * Builds the authorization server.
 * @param deps - OAuth dependencies
 * @param keys - the project signing keys
 * @returns the router, key store and bearer authenticator
 */
export function oauthServer(deps: OAuthDeps, keys: KeyStore): OAuthServer {
  const dpop = new DpopProofs(deps);
  const bearer = new BearerAuthenticator(deps, keys, dpop);
  const router = Router({ mergeParams: true });
  const errors = oauthJsonErrors();
  // One set of counters for every limiter of the app (shared by all instances with MongoDB).
  const counters = rateLimitCounters(deps.storage);
  router.post('/token', auditOutcome(deps, 'token'), oauthRateLimit(deps.config, 'token', counters), ...tokenEndpoint(deps, keys, dpop), errors);
  router.get('/jwks', ...jwksEndpoint(deps, keys), errors);
  router.post('/introspect', auditOutcome(deps, 'introspect'), oauthRateLimit(deps.config, 'introspection', counters), ...introspectEndpoint(deps, bearer), errors);
  router.post('/revoke', auditOutcome(deps, 'revoke'), oauthRateLimit(deps.config, 'revocation', counters), ...revokeEndpoint(deps, bearer), errors);
  router.get('/userinfo', auditOutcome(deps, 'userinfo'), ...userinfoEndpoint(deps, bearer), errors);
  router.post('/userinfo', auditOutcome(deps, 'userinfo'), ...userinfoEndpoint(deps, bearer), errors);
  router.post('/launch', auditOutcome(deps, 'launch'), ...launchEndpoint(deps, bearer), errors);
  router.post('/par', auditOutcome(deps, 'par'), oauthRateLimit(deps.config, 'par', counters), ...parEndpoint(deps), errors);
  router.get('/keys', ...signingKeysEndpoint(deps, bearer, keys), errors);
  router.post('/keys/rotate', ...rotateSigningKeyEndpoint(deps, bearer, keys), errors);
  router.get('/smart-style.json', smartStyleHandler);
  router.use(registrationRouter(deps, bearer, [auditOutcome(deps, 'register'), oauthRateLimit(deps.config, 'register', counters)]));
  router.use(interactionRouter(deps, counters.counters, new RelyingParties(deps.config, deps.storage.resources, keys)));
  router.all(['/token', '/introspect', '/revoke', '/jwks', '/userinfo', '/launch', '/par', '/keys', '/keys/rotate'], methodNotAllowed, errors);
  return { router, keys, bearer };
}

/**
 * Adds the discovery documents to the app: the OIDC/RFC 8414 metadata and the SMART configuration (the latter
 * ahead of the FHIR router, so FHIR content negotiation does not apply to it).
 * @param app - the Express app
 * @param deps - OAuth dependencies
 */
export function mountDiscovery(app: Express, deps: OAuthDeps): void {
  app.get(DISCOVERY_PATHS, discoveryHandler(deps));
  app.get(SMART_CONFIGURATION_PATH, smartConfigurationHandler(deps));
}
