/**
 * The rules an IdentityProvider must meet beyond its JSON schema, checked whenever one is written (a 400
 * OperationOutcome whose `expression` names the element):
 * - `issuer` and every endpoint are absolute http(s) URLs without credentials or a fragment (whether plain http is
 *   usable is decided when the server connects: only loopback with ALLOW_HTTP_JWKS_URI=loopback);
 * - endpoints are given all together (authorization, token, JWKS) or not at all (discovery);
 * - `scope` contains `openid` and only valid scope tokens;
 * - `emailDomains` are lower-case DNS names, and `requiredForEmailDomains` needs at least one;
 * - `button.logoUri` is https; `defaultMembership.accessPolicy` names an AccessPolicy.
 */
import { type Issue, InvalidResourceError } from '../../fhir/errors';

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const ENDPOINTS = ['authorizationEndpoint', 'tokenEndpoint', 'jwksUri'] as const;

function urlProblem(value: unknown, httpsOnly = false): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && (httpsOnly || url.protocol !== 'http:')) return httpsOnly ? 'must be an https URL' : 'must be an http(s) URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.hash || value.includes('#')) return 'must not have a fragment';
  return undefined;
}

/**
 * Throws a 400 listing every problem of an IdentityProvider.
 * @param resource - the IdentityProvider about to be stored (already schema-valid)
 */
export function assertValidIdentityProvider(resource: Record<string, unknown>): void {
  const issues: Issue[] = [];
  const add = (element: string, diagnostics: string): void => {
    issues.push({ code: 'invariant', diagnostics, expression: [`IdentityProvider.${element}`] });
  };
  for (const element of ['issuer', ...ENDPOINTS, 'userinfoEndpoint']) {
    const problem = urlProblem(resource[element]);
    if (problem) add(element, `${element} ${problem}`);
  }
  if (typeof resource.issuer === 'string' && /[?]/.test(resource.issuer)) add('issuer', 'issuer must not have a query');
  const given = ENDPOINTS.filter((e) => resource[e] !== undefined);
  if (given.length > 0 && given.length < ENDPOINTS.length) {
    add(ENDPOINTS.find((e) => resource[e] === undefined) as string, 'authorizationEndpoint, tokenEndpoint and jwksUri are given together (or none, for discovery)');
  }
  if (typeof resource.scope === 'string') {
    const scopes = resource.scope.split(' ');
    if (!scopes.includes('openid')) add('scope', 'scope must include openid');
    if (scopes.some((s) => !SCOPE_TOKEN.test(s))) add('scope', 'scope must be scope tokens separated by single spaces');
  }
  const domains = Array.isArray(resource.emailDomains) ? resource.emailDomains : [];
  domains.forEach((domain, i) => {
    if (typeof domain !== 'string' || !DOMAIN.test(domain)) add(`emailDomains[${i}]`, 'an email domain is a lower-case DNS name such as example.org');
  });
  if (resource.requiredForEmailDomains === true && domains.length === 0) add('requiredForEmailDomains', 'requiredForEmailDomains needs emailDomains');
  const button = resource.button as Record<string, unknown> | undefined;
  const logo = urlProblem(button?.logoUri, true);
  if (logo) add('button.logoUri', `button.logoUri ${logo}`);
  const membership = resource.defaultMembership as Record<string, unknown> | undefined;
  const policy = (membership?.accessPolicy as Record<string, unknown> | undefined)?.reference;
  if (policy !== undefined && (typeof policy !== 'string' || !/^AccessPolicy\/[A-Za-z0-9\-.]{1,64}$/.test(policy))) {
    add('defaultMembership.accessPolicy', 'defaultMembership.accessPolicy must be a reference AccessPolicy/{id}');
  }
  if (issues.length > 0) throw new InvalidResourceError(issues);
}
