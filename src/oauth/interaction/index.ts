/**
 * The browser-facing part of the authorization server, mounted by `oauthRouter` under
 * `/w/{tenant}/{project}/api/v1/oauth`:
 * - `GET|POST /authorize` (RFC 6749 §4.1.1) — see endpoints/authorize.ts;
 * - `GET|POST /login`, `GET|POST /patient-picker` (standalone SMART launch), `GET|POST /consent` — the
 *   interaction pages;
 * - `GET|POST /logout`;
 * - `GET /federated/start`, `GET /federated/callback` — sign-in through an IdentityProvider (../federated/).
 * Forms are `application/x-www-form-urlencoded` (small bodies only; the consent form may carry up to 1000 fields). Errors on these routes render as HTML
 * pages (page-errors.ts). docs/oauth-login.md describes the behaviour.
 */
import express, { Router } from 'express';
import type { OAuthDeps } from '../deps';
import { authorizeHandler } from '../endpoints/authorize';
import { consentPageHandler, consentSubmitHandler } from './consent';
import { loginPageHandler, loginSubmitHandler } from './login';
import { logoutPageHandler, logoutSubmitHandler } from './logout';
import { pageErrorHandler } from './page-errors';
import { patientPickerPageHandler, patientPickerSubmitHandler } from './patient-picker';
import { LoginRateLimiter } from './rate-limit';
import type { WindowCounters } from '../../storage/ports';
import { CALLBACK_PATH, type FederatedDeps, federatedCallbackHandler, federatedStartHandler } from '../federated/handlers';
import type { RelyingParties } from '../federated/relying-party';

/**
 * Builds the router. The failed-login limiter lives as long as the router (one per app).
 * @param deps - the OAuth dependencies
 * @param counters - the app's rate-limit counters (shared by every instance with MongoDB)
 * @param parties - the relying-party side of the project's IdentityProviders
 * @returns the router
 */
export function interactionRouter(deps: OAuthDeps, counters: WindowCounters, parties: RelyingParties): Router {
  const router = Router({ mergeParams: true });
  const limiter = new LoginRateLimiter({ maxFailures: deps.config.loginMaxFailures, windowSeconds: deps.config.loginFailureWindowSeconds }, counters);
  const federated: FederatedDeps = { deps, parties, limiter };
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 100 });
  // The consent form posts one field per ticked scope: room for every scope a 4096-character request can name.
  const consentForm = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 1000 });
  const errors = pageErrorHandler();

  router.get('/authorize', authorizeHandler(deps), errors);
  router.post('/authorize', form, authorizeHandler(deps), errors);
  router.get('/login', loginPageHandler(deps, federated), errors);
  router.post('/login', form, loginSubmitHandler(deps, limiter, federated), errors);
  router.get('/federated/start', federatedStartHandler(federated), errors);
  router.get(CALLBACK_PATH, federatedCallbackHandler(federated), errors);
  router.get('/consent', consentPageHandler(deps), errors);
  router.post('/consent', consentForm, consentSubmitHandler(deps), errors);
  router.get('/patient-picker', patientPickerPageHandler(deps), errors);
  router.post('/patient-picker', form, patientPickerSubmitHandler(deps), errors);
  router.get('/logout', logoutPageHandler(deps), errors);
  router.post('/logout', form, logoutSubmitHandler(deps), errors);
  return router;
}
