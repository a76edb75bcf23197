/**
 * Bearer token authentication (RFC 6750) for the FHIR API, the userinfo and the launch endpoints (DESIGN §5.1, §7).
 * - the challenge (RFC 6750 §3.1) names the project's issuer as the realm: no credentials (no `Authorization`
 *   header, or another scheme such as `Basic`) → 401 `Bearer realm="…"` without an error code; a `Bearer`
 *   header whose token is missing, malformed, invalid, expired or revoked → 401 `error="invalid_token"` with an
 *   `error_description` (RFC 6750 lists "malformed" under invalid_token; the 400 invalid_request it also allows
 *   for a malformed request is not used, so every failed bearer check is a 401 the client can act on alike);
 * - the signature and claims are verified once per token (tokens/verify.ts) and the result is cached until the
 *   token expires (a bounded Map), so the hot path never signs, parses keys, reads a file or scans a collection;
 * - on every request the grant behind the token must still be active (revocation, code or refresh-token reuse):
 *   a keyed read of the store, never cached, so a revocation is seen on the next request by every instance
 *   sharing the store (a client_credentials token is its own grant: there, any record of its grant id is its
 *   revocation; tokens/grants.ts);
 * - and its ClientApplication, User and Membership must still be active: read through the policy cache
 *   (src/policy/cache.ts), which every write of them invalidates, so a deactivation is seen on the next request
 *   (by other instances sharing MongoDB within the cache's `maxAgeMs`, as for policies);
 * - DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only as `Authorization: DPoP <token>` with
 *   a proof of that key for this request (`htm`, `htu`, `ath`; dpop/dpop.ts); sent as `Bearer` it is
 *   `invalid_token` with a `DPoP` challenge. The `Bearer` path pays one property test for this (the claims are
 *   cached with the token), nothing more; only the `DPoP` scheme builds the request's URL and reads the proof.
 */
import { policyCacheFor } from '../policy/cache';
import { type ClientApplication, isClientActive } from './clients/client-store';
import type { OAuthDeps } from './deps';
import type { DpopProofs } from './dpop/dpop';
import { InvalidDpopProofError, InvalidTokenError, MissingTokenError } from './errors';
import type { OAuthProject } from './project';
import { type Grant, isGrantActive, readGrant } from './tokens/grants';
import type { KeyStore } from './tokens/keys';
import { type AccessTokenClaims, verifyAccessToken } from './tokens/verify';

/** Who is calling, as established by a bearer token. */
export interface AuthContext extends AccessTokenClaims {
  /** The Membership the user signed in with. */
  membershipId?: string;
  /** The user's role (owner, admin, member). */
  role?: string;
}

/** The request a `DPoP` token is presented with, built only when the scheme is `DPoP`. */
export interface DpopRequest {
  method: string;
  /** The request's URL as this server publishes it (under PUBLIC_URL); its query is ignored. */
  url: string;
  /** The `DPoP` header. */
  proof: string | undefined;
  /** Receives the nonce to send back (`DPoP-Nonce`) when nonces are required. */
  nonce?: (value: string) => void;
}

/** What the policy cache says of a token's client, user and membership. */
interface PrincipalsVerdict {
  /** Why the token no longer works, when one of them is missing or inactive. */
  inactive?: string;
  role?: string;
}

/** A verified token and what its grant says about it (grants change only by revocation). */
interface CachedToken {
  claims: AccessTokenClaims;
  membershipId?: string;
  grantChecked: boolean;
  /** The caller as last authenticated, and the verdict it was built from. */
  context?: { verdict: PrincipalsVerdict; auth: AuthContext };
}

/** Upper bound of cached verified tokens; the cache is emptied when it is reached. */
const MAX_CACHED = 10_000;
/** The bearer check only reads grants. */
const SHARED = { shared: true } as const;
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
/** The `Bearer` scheme, whatever follows (RFC 9110 §11.1: scheme names are case-insensitive). */
const BEARER_SCHEME = /^Bearer(?:\s|$)/i;
const DPOP = /^DPoP ([A-Za-z0-9\-._~+/]+=*)$/i;
const DPOP_SCHEME = /^DPoP(?:\s|$)/i;

/** Verifies bearer tokens for every project. */
export class BearerAuthenticator {
  private readonly verified = new Map<string, CachedToken>();

  constructor(
    private readonly deps: OAuthDeps,
    private readonly keys: KeyStore,
    private readonly dpop: DpopProofs,
  ) {}

  /**
   * Authenticates an `Authorization` header.
   * @param header - the header value
   * @param project - the project the request addresses
   * @param dpopRequest - the request as a `DPoP` token needs it (called only for that scheme)
   * @returns the caller
   * @throws MissingTokenError (401, no error code) without a bearer credential; InvalidTokenError (401) for
   *   anything but a valid, active token of this project; both challenge with the project's issuer as realm;
   *   for the `DPoP` scheme also InvalidDpopProofError and UseDpopNonceError (401, `DPoP` challenge)
   */
  async authenticate(header: string | undefined, project: OAuthProject, dpopRequest: () => DpopRequest): Promise<AuthContext> {
    const credentials = header?.trim() ?? '';
    if (!BEARER_SCHEME.test(credentials)) {
      if (DPOP_SCHEME.test(credentials)) return this.authenticateDpop(credentials, project, dpopRequest());
      throw new MissingTokenError(project.issuer);
    }
    const match = BEARER.exec(credentials);
    try {
      if (!match) throw new InvalidTokenError('The Authorization header does not carry a well-formed bearer token');
      const auth = await this.authenticateToken(match[1] as string, project);
      if (auth.jkt !== undefined) throw new InvalidTokenError('The access token is bound to a DPoP key: present it with the DPoP scheme and a proof').asDpop();
      return auth;
    } catch (err) {
      if (err instanceof InvalidTokenError) err.inRealm(project.issuer);
      throw err;
    }
  }

  /**
   * `Authorization: DPoP <token>` with its proof (RFC 9449 §7.1): the proof is accepted once for this request
   * and must be of the key the token is bound to.
   */
  private async authenticateDpop(credentials: string, project: OAuthProject, request: DpopRequest): Promise<AuthContext> {
    const realm = project.issuer;
    try {
      const match = DPOP.exec(credentials);
      if (!match) throw new InvalidTokenError('The Authorization header does not carry a well-formed DPoP token');
      const token = match[1] as string;
      const proof = await this.dpop.check(project, request.proof, { method: request.method, url: request.url, accessToken: token, realm });
      const auth = await this.authenticateToken(token, project);
      if (auth.jkt === undefined) throw new InvalidTokenError('The access token is not bound to a DPoP key: present it with the Bearer scheme');
      if (auth.jkt !== proof.jkt) throw new InvalidDpopProofError('The DPoP proof is signed by another key than the one the access token is bound to', realm);
      await this.dpop.markUsed(project, proof, realm);
      if (proof.nonce !== undefined) request.nonce?.(proof.nonce);
      return auth;
    } catch (err) {
      if (err instanceof InvalidTokenError) err.asDpop().inRealm(realm);
      throw err;
    }
  }

  /**
   * Authenticates a bare access token (introspection uses this).
   * @param token - the JWT
   * @param project - the project
   * @returns the caller
   * @throws InvalidTokenError when the token is invalid, expired, revoked or its principals are inactive
   */
  async authenticateToken(token: string, project: OAuthProject): Promise<AuthContext> {
    const cached = await this.verify(token, project);
    return this.checkActive(cached);
  }

  /**
   * Verifies a token's signature and claims without the activity checks (revocation needs only this).
   * @param token - the JWT
   * @param project - the project
   * @returns the claims
   */
  async verifySignature(token: string, project: OAuthProject): Promise<AccessTokenClaims> {
    return (await this.verify(token, project)).claims;
  }

  private async verify(token: string, project: OAuthProject): Promise<CachedToken> {
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.claims.project === project.key && cached.claims.exp > Math.floor(Date.now() / 1000)) return cached;
      this.verified.delete(token);
      if (cached.claims.project !== project.key) throw new InvalidTokenError('The access token was issued for another project');
      throw new InvalidTokenError('The access token is invalid or expired');
    }
    const entry: CachedToken = { claims: await verifyAccessToken(this.keys, token, project), grantChecked: false };
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(token, entry);
    return entry;
  }

  private async checkActive(entry: CachedToken): Promise<AuthContext> {
    const { claims } = entry;
    const { deps } = this;
    let grant: Grant | undefined;
    let read = false;
    if (!entry.grantChecked && claims.grantStored) {
      // The first request learns the Membership from the grant; later ones make every lookup at once.
      grant = await readGrant(deps, claims.grantId, SHARED);
      read = true;
      if (!isGrantActive(grant) || grant.project !== claims.project || grant.clientId !== claims.clientId || grant.userId !== claims.userId) {
        throw new InvalidTokenError('The access token was revoked');
      }
      entry.membershipId = grant.membershipId;
    }
    entry.grantChecked = true;
    const [current, verdict] = await Promise.all([read ? grant : readGrant(deps, claims.grantId, SHARED), this.principalsVerdict(claims, entry.membershipId)]);
    // A stored grant must be there and active; a token that is its own grant is revoked by any record of its id.
    if (claims.grantStored ? !isGrantActive(current) : current !== undefined) throw new InvalidTokenError('The access token was revoked');
    if (verdict.inactive) throw new InvalidTokenError(verdict.inactive);
    if (entry.context?.verdict !== verdict) entry.context = { verdict, auth: { ...claims, membershipId: entry.membershipId, role: verdict.role } };
    return entry.context.auth;
  }

  /**
   * Whether a token's ClientApplication, User and Membership are active, and the user's role. They come from the
   * policy cache, which every write of them invalidates, so the verdict is computed once per cache generation
   * and a deactivation fails the very next request without a store read per request.
   */
  private principalsVerdict(claims: AccessTokenClaims, membershipId: string | undefined): Promise<PrincipalsVerdict> {
    const records = policyCacheFor(this.deps.storage.resources);
    const { project, userId, clientId } = claims;
    return records.derived(project, `bearer\0${clientId}\0${userId ?? ''}\0${membershipId ?? ''}`, async () => {
      const [client, user, membership] = await Promise.all([
        records.record(project, 'ClientApplication', clientId),
        userId ? records.record(project, 'User', userId) : undefined,
        userId && membershipId ? records.record(project, 'Membership', membershipId) : undefined,
      ]);
      if (!client || !isClientActive(client as ClientApplication)) return { inactive: 'The client is no longer active' };
      if (userId) {
        const membershipOk = !membershipId || (membership !== undefined && membership.active !== false);
        if (!user || user.active === false || !membershipOk) return { inactive: 'The user or membership is no longer active' };
      }
      return { role: typeof user?.role === 'string' ? user.role : undefined };
    });
  }
}
