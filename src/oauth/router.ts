/**
 * The authorization server's routes. `oauthRouter` is mounted at `/w/{tenant}/{project}/api/v1/oauth`:
 * token, jwks, introspect, revoke, userinfo (JSON, errors per RFC 6749 §5.2) and the browser-facing authorize,
 * login, consent and logout (interaction/). `mountDiscovery` adds the well-known documents at the app level.
 */
import express, { type Express, Router } from 'express';
import { BearerAuthenticator } from './bearer';
import type { OAuthDeps } from './deps';
import { discoveryHandler } from './discovery';
import { introspectHandler } from './endpoints/introspect';
import { jwksHandler } from './endpoints/jwks';
import { oauthJsonErrors } from './endpoints/respond';
import { revokeHandler } from './endpoints/revoke';
import { tokenHandler } from './endpoints/token';
import { userinfoHandler } from './endpoints/userinfo';
import { interactionRouter } from './interaction';
import { KeyStore } from './tokens/keys';

/** Path of the OAuth endpoints (Express syntax). */
export const OAUTH_BASE_PATH = '/w/:tenant/:project/api/v1/oauth';

/** The authorization server of an app: its routes and the bearer authenticator the FHIR API uses. */
export interface OAuthServer {
  router: Router;
  keys: KeyStore;
  bearer: BearerAuthenticator;
}

/**
 * Builds the authorization server.
 * @param deps - OAuth dependencies
 * @returns the router, key store and bearer authenticator
 */
export function oauthServer(deps: OAuthDeps): OAuthServer {
  const keys = new KeyStore(deps.storage.records);
  const bearer = new BearerAuthenticator(deps, keys);
  const router = Router({ mergeParams: true });
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 50 });
  const errors = oauthJsonErrors();
  router.post('/token', form, tokenHandler(deps, keys), errors);
  router.get('/jwks', jwksHandler(deps, keys), errors);
  router.post('/introspect', form, introspectHandler(deps, bearer), errors);
  router.post('/revoke', form, revokeHandler(deps, bearer), errors);
  router.get('/userinfo', userinfoHandler(deps, bearer), errors);
  router.post('/userinfo', userinfoHandler(deps, bearer), errors);
  router.use(interactionRouter(deps));
  return { router, keys, bearer };
}

/**
 * Adds the discovery documents to the app.
 * @param app - the Express app
 * @param deps - OAuth dependencies
 */
export function mountDiscovery(app: Express, deps: OAuthDeps): void {
  const handler = discoveryHandler(deps);
  app.get('/.well-known/openid-configuration/w/:tenant/:project', handler);
  app.get('/w/:tenant/:project/.well-known/openid-configuration', handler);
  app.get('/.well-known/oauth-authorization-server/w/:tenant/:project', handler);
}
