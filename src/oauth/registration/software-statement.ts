/**
 * Software statements (RFC 7591 §2.3): a JWT about the software, signed by an issuer the project trusts
 * (SOFTWARE_STATEMENT_ISSUERS, per `tenant/project`). The statement must be signed with an asymmetric algorithm
 * ({@link REQUEST_OBJECT_ALGS}) by a key of that issuer (inline `jwks`, or `jwksUri` fetched under the remote JWKS
 * limits); `exp` and `nbf` are checked when present. An issuer the project does not trust is
 * `unapproved_software_statement`; anything else wrong is `invalid_software_statement`. Its claims take precedence
 * over the plain metadata (§3.1.1).
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import type { SoftwareStatementIssuer } from '../../config/schema';
import type { OAuthDeps } from '../deps';
import { RegistrationError } from '../errors';
import { REQUEST_OBJECT_ALGS } from '../requests/request-object';

/** JWT claims of the statement itself, not metadata. */
const STATEMENT_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

const invalid = (description: string): RegistrationError => new RegistrationError('invalid_software_statement', description);

async function issuerKeys(deps: OAuthDeps, issuer: SoftwareStatementIssuer, kid: string | undefined): Promise<JSONWebKeySet> {
  if (issuer.jwks) return issuer.jwks as unknown as JSONWebKeySet;
  try {
    return await deps.remoteJwks.keySet(issuer.jwksUri as string, kid);
  } catch {
    throw invalid("The issuer's keys could not be fetched");
  }
}

/**
 * Verifies a software statement presented to a project.
 * @param deps - OAuth dependencies (configuration, remote JWKS)
 * @param projectKey - `tenant/project`
 * @param statement - the JWT
 * @returns its metadata claims
 * @throws RegistrationError
 */
export async function verifySoftwareStatement(deps: OAuthDeps, projectKey: string, statement: unknown): Promise<Record<string, unknown>> {
  if (typeof statement !== 'string' || statement.length > 16 * 1024) throw invalid('software_statement must be a JWT');
  let header;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(statement);
    unverified = decodeJwt(statement);
  } catch {
    throw invalid('software_statement is not a signed JWT');
  }
  if (!(REQUEST_OBJECT_ALGS as readonly string[]).includes(String(header.alg))) throw invalid(`Software statements must be signed with ${REQUEST_OBJECT_ALGS.join(', ')}`);
  const issuer = (deps.config.softwareStatementIssuers[projectKey] ?? []).find((entry) => entry.issuer === unverified.iss);
  if (!issuer) throw new RegistrationError('unapproved_software_statement', 'The software statement was not issued by an issuer this project trusts');
  let payload: JWTPayload;
  try {
    const keys = createLocalJWKSet(await issuerKeys(deps, issuer, header.kid));
    ({ payload } = await jwtVerify(statement, keys, { algorithms: [...REQUEST_OBJECT_ALGS], issuer: issuer.issuer }));
  } catch (err) {
    if (err instanceof RegistrationError) throw err;
    throw invalid('The software statement could not be verified (signature, exp or nbf)');
  }
  return Object.fromEntries(Object.entries(payload).filter(([name]) => !STATEMENT_CLAIMS.has(name)));
}

/**
 * The metadata claims of a statement verified earlier (stored with the client), without verifying it again.
 * @param statement - the stored JWT
 * @returns its metadata claims, or none when it cannot be read
 */
export function storedStatementClaims(statement: unknown): Record<string, unknown> {
  if (typeof statement !== 'string') return {};
  try {
    return Object.fromEntries(Object.entries(decodeJwt(statement)).filter(([name]) => !STATEMENT_CLAIMS.has(name)));
  } catch {
    return {};
  }
}
