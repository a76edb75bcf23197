/**
 * SMART App Launch scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
 * `<patient|user|system>/<Type|*>.<permissions>[?<query>]`.
 * - v1 permissions: `read` (= r s), `write` (= c u d), `*` (= c r u d s);
 * - v2 permissions: a non-empty subsequence of `cruds` in that order (`rs`, `cud`, `cruds`); out-of-order or
 *   repeated letters are not a scope (they can never widen access);
 * - a v2 scope may carry a search query restricting it (`patient/Observation.rs?category=laboratory`).
 */
import { isResourceType } from '../fhir/definitions';

/** Whose data a resource scope is about. */
export type ScopeContext = 'patient' | 'user' | 'system';
/** One SMART v2 permission letter. */
export type ScopePermission = 'c' | 'r' | 'u' | 'd' | 's';

/** A parsed resource scope. */
export interface ResourceScope {
  raw: string;
  context: ScopeContext;
  /** A resource type, or `*`. */
  resourceType: string;
  permissions: ReadonlySet<ScopePermission>;
  version: 1 | 2;
  /** The restricting query (v2 only), decoded. */
  restriction?: Array<[name: string, value: string]>;
}

/** Scopes that are not about resources. */
export const NON_RESOURCE_SCOPES: ReadonlySet<string> = new Set([
  'openid',
  'fhirUser',
  'profile',
  'email',
  'launch',
  'launch/patient',
  'launch/encounter',
  'offline_access',
  'online_access',
]);

const V1: Readonly<Record<string, readonly ScopePermission[]>> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };
const SCOPE = /^(patient|user|system)\/([A-Za-z]+|\*)\.([a-z*]+)(?:\?(.*))?$/;
const V2 = /^c?r?u?d?s?$/;

/**
 * Parses a resource scope.
 * @param token - one scope token
 * @returns the scope, or undefined when the token is not a valid resource scope
 */
export function parseResourceScope(token: string): ResourceScope | undefined {
  const match = SCOPE.exec(token);
  if (!match) return undefined;
  const [, context, resourceType, suffix, query] = match as unknown as [string, ScopeContext, string, string, string | undefined];
  if (resourceType !== '*' && !isResourceType(resourceType)) return undefined;
  const v1 = V1[suffix];
  if (v1) return query === undefined ? { raw: token, context, resourceType, permissions: new Set(v1), version: 1 } : undefined;
  if (suffix === '' || !V2.test(suffix)) return undefined;
  const scope: ResourceScope = { raw: token, context, resourceType, permissions: new Set(suffix.split('') as ScopePermission[]), version: 2 };
  if (query !== undefined) {
    const restriction = parseRestriction(query);
    if (!restriction) return undefined;
    scope.restriction = restriction;
  }
  return scope;
}

function parseRestriction(query: string): Array<[string, string]> | undefined {
  if (query === '') return undefined;
  const pairs: Array<[string, string]> = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    try {
      pairs.push([decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '))]);
    } catch {
      return undefined;
    }
  }
  return pairs;
}

/**
 * Whether a scope token means something to this server.
 * @param token - one scope token
 * @returns true for the OpenID/SMART launch scopes and valid resource scopes
 */
export function isKnownScope(token: string): boolean {
  return NON_RESOURCE_SCOPES.has(token) || parseResourceScope(token) !== undefined;
}
