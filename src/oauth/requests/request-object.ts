/**
 * Signed request objects (RFC 9101, JAR): the `request` parameter at the authorization endpoint and inside a pushed
 * authorization request. The JWT must
 * - be signed with an asymmetric algorithm of {@link REQUEST_OBJECT_ALGS} (`none` and HMAC are refused) by a key of
 *   the client's registered `jwks` or `jwksUri` (the keys `private_key_jwt` uses; a `jku` header only when it is
 *   exactly the registered `jwksUri`, and nothing is fetched from anywhere else);
 * - have `typ` absent, `JWT` or `oauth-authz-req+jwt`;
 * - have `iss` = the client id (and `client_id`, when present, the same), `aud` naming the issuer, an `exp` at most
 *   one hour ahead, and `nbf` (when present) in the past.
 * Its claims are the request: every parameter outside the object is ignored (RFC 9101 §5: "the authorization
 * server MUST only use the parameters in the Request Object"), except `client_id`. SMART's `aud` parameter (the
 * FHIR base) cannot be a separate claim, the JWT `aud` being the issuer: when the `aud` claim also names the FHIR
 * base, the request's `aud` parameter is the FHIR base. A `request` or `request_uri` claim is refused.
 * Every failure is `invalid_request_object`.
 */
import { decodeProtectedHeader, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { clientKeys } from '../clients/client-assertion';
import type { ClientApplication } from '../clients/client-store';
import type { OAuthDeps } from '../deps';
import { InvalidRequestObjectError, OAuthError } from '../errors';
import { MAX_PARAMETER_LENGTH, type OAuthParams } from '../interaction/params';
import type { OAuthProject } from '../project';

/** The project as request objects need it. */
export type RequestProject = Pick<OAuthProject, 'key' | 'issuer'>;

/** Signature algorithms accepted for request objects (asymmetric only; FAPI 2.0 lists PS256, ES256, EdDSA). */
export const REQUEST_OBJECT_ALGS = ['RS256', 'RS384', 'PS256', 'ES256', 'ES384'] as const;
/** Longest accepted request object lifetime ahead of now (seconds). */
const MAX_AHEAD_SECONDS = 3600;
/** Longest accepted request object (characters). */
export const MAX_REQUEST_OBJECT_LENGTH = 16 * 1024;
/** JWT claims that describe the object, not the request. */
const JWT_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sub']);
const TYPES = new Set(['jwt', 'oauth-authz-req+jwt', 'application/oauth-authz-req+jwt']);

function readHeader(jwt: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(jwt);
  } catch {
    throw new InvalidRequestObjectError('The request object is not a signed JWT');
  }
}

function checkHeader(header: ProtectedHeaderParameters): void {
  if (!(REQUEST_OBJECT_ALGS as readonly string[]).includes(String(header.alg))) {
    throw new InvalidRequestObjectError(`Request objects must be signed with ${REQUEST_OBJECT_ALGS.join(', ')}`);
  }
  if (header.typ !== undefined && !TYPES.has(String(header.typ).toLowerCase())) throw new InvalidRequestObjectError('The request object typ must be oauth-authz-req+jwt');
  if (header.crit !== undefined) throw new InvalidRequestObjectError('The request object names critical header parameters this server does not understand');
}

async function verify(deps: OAuthDeps, project: RequestProject, client: ClientApplication, jwt: string, header: ProtectedHeaderParameters): Promise<JWTPayload> {
  let keys;
  try {
    keys = await clientKeys(deps, client, header);
  } catch (err) {
    if (err instanceof OAuthError) throw new InvalidRequestObjectError(`The request object cannot be verified: ${err.description}`);
    throw err;
  }
  try {
    const { payload } = await jwtVerify(jwt, keys, { algorithms: [...REQUEST_OBJECT_ALGS], issuer: client.id, audience: project.issuer, requiredClaims: ['exp'] });
    return payload;
  } catch {
    throw new InvalidRequestObjectError('The request object could not be verified (signature, iss, aud, exp or nbf)');
  }
}

function parameterValue(name: string, value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  if (text.length > MAX_PARAMETER_LENGTH) throw new InvalidRequestObjectError(`The ${name} claim is longer than ${MAX_PARAMETER_LENGTH} characters`);
  return text;
}

/**
 * Verifies a request object and turns its claims into the request's parameters.
 * @param deps - OAuth dependencies
 * @param project - the project (issuer, FHIR base)
 * @param client - the client named by the request's `client_id`
 * @param jwt - the request object
 * @returns the parameters (with `client_id`)
 * @throws InvalidRequestObjectError for every failure
 */
export async function requestObjectParams(deps: OAuthDeps, project: RequestProject, client: ClientApplication, jwt: string): Promise<OAuthParams> {
  if (jwt.length > MAX_REQUEST_OBJECT_LENGTH) throw new InvalidRequestObjectError(`The request object is longer than ${MAX_REQUEST_OBJECT_LENGTH} characters`);
  const header = readHeader(jwt);
  checkHeader(header);
  const payload = await verify(deps, project, client, jwt, header);
  if ((payload.exp as number) - Math.floor(Date.now() / 1000) > MAX_AHEAD_SECONDS) {
    throw new InvalidRequestObjectError(`Request objects may expire at most ${MAX_AHEAD_SECONDS} seconds ahead`);
  }
  if (payload.client_id !== undefined && payload.client_id !== client.id) throw new InvalidRequestObjectError('The request object client_id is not the client_id of the request');
  if (payload.request !== undefined || payload.request_uri !== undefined) throw new InvalidRequestObjectError('A request object must not contain request or request_uri');
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(payload)) {
    if (JWT_CLAIMS.has(name) || value === null || value === undefined || value === '') continue;
    values.set(name, parameterValue(name, value));
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const fhirBase = `${project.issuer}/api/v1/fhir/r4`;
  if (audiences.includes(fhirBase)) values.set('aud', fhirBase);
  values.set('client_id', client.id);
  return { values, duplicates: new Set(), oversized: new Set() };
}
