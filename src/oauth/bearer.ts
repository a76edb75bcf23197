/**
 * Bearer token authentication (RFC 6750) for the FHIR API and the userinfo endpoint. A token is accepted when its
 * signature verifies with the project's keys, `typ` is `at+jwt`, `iss` is the project, `aud` is its FHIR base and
 * it has not expired — and, on every request, its grant is still active and its client, user and membership are
 * still active (revocation and deactivation take effect on the next request). Verified signatures are cached
 * until the token expires, so the per-request cost is a few record and resource lookups.
 */
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { isClientActive, loadClient } from './clients/client-store';
import type { OAuthDeps } from './deps';
import { InvalidTokenError } from './errors';
import { userContext } from './grants/user-context';
import type { OAuthProject } from './project';
import { isGrantActive, readGrant } from './tokens/grants';
import type { KeyStore } from './tokens/keys';

/** Who is calling, as established by a bearer token. */
export interface AuthContext {
  project: string;
  clientId: string;
  userId?: string;
  membershipId?: string;
  scopes: string[];
  grantId: string;
  /** Absolute URL of the Membership's linked resource. */
  fhirUser?: string;
  /** The user's role (owner, admin, member). */
  role?: string;
  /** Expiry, epoch seconds. */
  exp: number;
  iat: number;
  jti?: string;
}

const MAX_CACHED = 10_000;

/** Verifies bearer tokens for every project. */
export class BearerAuthenticator {
  private readonly verified = new Map<string, AuthContext>();

  constructor(
    private readonly deps: OAuthDeps,
    private readonly keys: KeyStore,
  ) {}

  /**
   * Authenticates an `Authorization` header.
   * @param header - the header value
   * @param project - the project the request addresses
   * @returns the caller
   * @throws InvalidTokenError (401) for anything but a valid, active token of this project
   */
  async authenticate(header: string | undefined, project: OAuthProject): Promise<AuthContext> {
    const match = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
    if (!match) throw new InvalidTokenError('A bearer token is required');
    const token = match[1] as string;
    const auth = await this.verifySignature(token, project);
    await this.checkActive(auth);
    return auth;
  }

  /**
   * Verifies a token's signature and claims without the activity checks (introspection uses both).
   * @param token - the JWT
   * @param project - the project
   * @returns the claims as an AuthContext
   */
  async verifySignature(token: string, project: OAuthProject): Promise<AuthContext> {
    const now = Math.floor(Date.now() / 1000);
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.project === project.key && cached.exp > now) return cached;
      if (cached.exp <= now) this.verified.delete(token);
      throw new InvalidTokenError('The access token is expired or for another project');
    }
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new InvalidTokenError('The access token is malformed');
    }
    const key = kid ? await this.keys.verificationKey(project.key, kid) : undefined;
    if (!key) throw new InvalidTokenError('The access token was not signed by this server');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg],
        issuer: project.issuer,
        audience: project.fhirBase,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'grant_id'],
      }));
    } catch {
      throw new InvalidTokenError('The access token is invalid or expired');
    }
    const sub = String(payload.sub);
    const auth: AuthContext = {
      project: project.key,
      clientId: String(payload.client_id),
      userId: sub.startsWith('User/') ? sub.slice(5) : undefined,
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      grantId: String(payload.grant_id),
      fhirUser: typeof payload.fhirUser === 'string' ? payload.fhirUser : undefined,
      exp: payload.exp as number,
      iat: payload.iat as number,
      jti: typeof payload.jti === 'string' ? payload.jti : undefined,
    };
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(token, auth);
    return auth;
  }

  /**
   * The grant, client, user and membership behind a token must all still be active.
   * @param auth - the verified token
   * @throws InvalidTokenError otherwise
   */
  async checkActive(auth: AuthContext): Promise<void> {
    const grant = await readGrant(this.deps, auth.grantId);
    if (!isGrantActive(grant) || grant.project !== auth.project) throw new InvalidTokenError('The access token was revoked');
    const client = await loadClient(this.deps, auth.project, auth.clientId);
    if (!client || !isClientActive(client)) throw new InvalidTokenError('The client is no longer active');
    auth.membershipId = grant.membershipId;
    if (grant.userId) {
      const user = await userContext(this.deps, auth.project, grant.userId, grant.membershipId);
      if (!user.active) throw new InvalidTokenError('The user or membership is no longer active');
      auth.role = user.role;
    }
  }
}
