/**
 * Per-scope consent (SMART App Launch 2.x "patient chooses", ONC §170.315(g)(10)): which of the granted scopes the
 * user may untick on the consent page, and which of them the posted form allows.
 * - Resource scopes (`patient/…`, `user/…`, `system/…`) are choosable: one checkbox each, named `scope`, ticked
 *   by default. A browser posts one `scope` field per ticked box and nothing for an unticked one.
 * - The other scopes — `openid`, `fhirUser`, `profile`, `email`, `launch`, `launch/patient`, `launch/encounter`,
 *   `offline_access`, `online_access` — are fixed: shown as included, granted whenever the user allows. They say
 *   who the user is, which context the app starts in, and how long access lasts, not which records it reaches.
 * - A posted value the page did not offer (a scope outside the request, a fixed scope, a narrower or rewritten
 *   one) is refused with a 400 page: the form was forged or altered, and nothing is granted or consumed.
 */
import { NON_RESOURCE_SCOPES } from '../../smart/scopes';
import { InteractionPageError } from './errors';

/** The granted scopes of a request, split as the consent page shows them (request order kept). */
export interface ConsentScopes {
  /** Resource scopes: a checkbox each. */
  choosable: string[];
  /** Identity, launch context and access-duration scopes: always included. */
  fixed: string[];
}

/**
 * Splits scopes into choosable and fixed. Anything that is not a known non-resource scope is choosable, so a
 * scope the page cannot classify is never granted without the user's tick.
 * @param scopes - the request's granted scopes
 * @returns the two lists
 */
export function splitConsentScopes(scopes: readonly string[]): ConsentScopes {
  return {
    choosable: scopes.filter((s) => !NON_RESOURCE_SCOPES.has(s)),
    fixed: scopes.filter((s) => NON_RESOURCE_SCOPES.has(s)),
  };
}

function forgedForm(): InteractionPageError {
  return new InteractionPageError(
    400,
    'This form could not be processed',
    'The form named a permission this application did not ask for. Go back to the application and start again.',
  );
}

function postedValues(posted: unknown): string[] {
  if (posted === undefined) return [];
  const values = Array.isArray(posted) ? (posted as unknown[]) : [posted];
  if (!values.every((v): v is string => typeof v === 'string')) throw forgedForm();
  return values;
}

/**
 * The scopes an Allow grants: every fixed scope, and the choosable scopes the form ticked.
 * @param scopes - the request's granted scopes (what the page showed)
 * @param posted - the form's `scope` field(s): undefined, one string, or an array
 * @returns the allowed scopes, in request order
 * @throws InteractionPageError (400) when a posted value is not a choosable scope of the request
 */
export function allowedScopes(scopes: readonly string[], posted: unknown): string[] {
  const { choosable } = splitConsentScopes(scopes);
  const ticked = new Set(postedValues(posted));
  for (const value of ticked) if (!choosable.includes(value)) throw forgedForm();
  return scopes.filter((s) => NON_RESOURCE_SCOPES.has(s) || ticked.has(s));
}
