/**
 * DPoP (RFC 9449) for the token endpoint and the resources (FHIR API, userinfo, launch): a proof is verified
 * (proof.ts), then, with DPOP_REQUIRE_NONCE, its nonce must be the server's (nonces.ts; `use_dpop_nonce` with the
 * nonce otherwise, before anything is recorded, so the client retries with the same key at no cost). Once the
 * request has authenticated (the client at the token endpoint; a token bound to the proof's key at a resource) its
 * `jti` is recorded as used (kind `dpop-proof-jti`, per project and key, until its `iat` leaves the window): a
 * second use anywhere — on this instance or another sharing the store — is `invalid_dpop_proof`. Recording only
 * after authentication means proofs alone, however valid, never make the server write.
 */
import type { OAuthDeps } from '../deps';
import { InvalidDpopProofError, UseDpopNonceError } from '../errors';
import type { OAuthProject } from '../project';
import { DpopNonces } from './nonces';
import { PROOF_WINDOW_SECONDS, type ProofExpectation, verifyDpopProof } from './proof';

/** A proof checked for a request, not yet marked used. */
export interface CheckedProof {
  /** The thumbprint of the proof's key: what the tokens are (or must be) bound to. */
  jkt: string;
  jti: string;
  iat: number;
  /** With nonces required: the nonce to send back in `DPoP-Nonce` (the current one). */
  nonce?: string;
}

/** Checks DPoP proofs for every project. */
export class DpopProofs {
  private readonly nonces: DpopNonces | undefined;

  constructor(private readonly deps: OAuthDeps) {
    const { config } = deps;
    this.nonces = config.dpopRequireNonce ? new DpopNonces(deps.storage.records, config.dpopNonceLifetimeSeconds) : undefined;
  }

  /**
   * Checks a proof for a request, without recording anything: the caller marks it used ({@link markUsed}) once the
   * request has authenticated (a client, or a token bound to the proof's key), so that proofs of a key of one's own
   * alone cannot make the server write.
   * @param project - the project
   * @param proof - the `DPoP` header value
   * @param expected - the request (method, public URL, access token on a resource, realm on a resource)
   * @returns the key thumbprint, the claims to record, and the nonce to send back
   * @throws InvalidDpopProofError for a missing or invalid proof; UseDpopNonceError when a nonce is required and
   *   the proof lacks the current one
   */
  async check(project: OAuthProject, proof: string | undefined, expected: ProofExpectation): Promise<CheckedProof> {
    const verified = await verifyDpopProof(proof, expected);
    const checked: CheckedProof = { jkt: verified.jkt, jti: verified.jti, iat: verified.iat };
    if (this.nonces) {
      checked.nonce = await this.nonces.current(project.key);
      if (!(await this.nonces.accepts(project.key, verified.nonce))) throw new UseDpopNonceError(checked.nonce, expected.realm);
    }
    return checked;
  }

  /**
   * Records a proof's `jti` as used, per project and key, until its `iat` leaves the window.
   * @param project - the project
   * @param proof - the checked proof
   * @param realm - a resource's realm (the error is then a 401 with a `DPoP` challenge)
   * @throws InvalidDpopProofError when it was used before, here or on another instance sharing the store
   */
  async markUsed(project: OAuthProject, proof: CheckedProof, realm?: string): Promise<void> {
    const fresh = await this.deps.storage.records.insert({
      kind: 'dpop-proof-jti',
      key: `${project.key}|${proof.jkt}|${proof.jti}`,
      value: {},
      expiresAt: new Date((proof.iat + PROOF_WINDOW_SECONDS + 1) * 1000).toISOString(),
    });
    if (!fresh) throw new InvalidDpopProofError('The DPoP proof was already used (jti)', realm);
  }
}
