/**
 * DPoP (RFC 9449) for the token endpoint and the resources (FHIR API, userinfo, launch): a proof is verified
 * (proof.ts), then, with DPOP_REQUIRE_NONCE, its nonce must be the server's (nonces.ts; `use_dpop_nonce` with the
 * nonce otherwise, before anything is recorded, so the client retries with the same key at no cost), then its
 * `jti` is recorded as used (kind `dpop-proof-jti`, per project and key, until its `iat` leaves the window): a
 * second use anywhere — on this instance or another sharing the store — is `invalid_dpop_proof`.
 */
import type { OAuthDeps } from '../deps';
import { InvalidDpopProofError, UseDpopNonceError } from '../errors';
import type { OAuthProject } from '../project';
import { DpopNonces } from './nonces';
import { PROOF_WINDOW_SECONDS, type ProofExpectation, verifyDpopProof } from './proof';

/** A proof accepted for a request. */
export interface AcceptedProof {
  /** The thumbprint of the proof's key: what the tokens are (or must be) bound to. */
  jkt: string;
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
   * Accepts a proof for a request, once.
   * @param project - the project
   * @param proof - the `DPoP` header value
   * @param expected - the request (method, public URL, access token on a resource, realm on a resource)
   * @returns the key thumbprint, and the nonce to send back
   * @throws InvalidDpopProofError for a missing, invalid or replayed proof; UseDpopNonceError when a nonce is
   *   required and the proof lacks the current one
   */
  async accept(project: OAuthProject, proof: string | undefined, expected: ProofExpectation): Promise<AcceptedProof> {
    const verified = await verifyDpopProof(proof, expected);
    let nonce: string | undefined;
    if (this.nonces) {
      nonce = await this.nonces.current(project.key);
      if (!(await this.nonces.accepts(project.key, verified.nonce))) throw new UseDpopNonceError(nonce, expected.realm);
    }
    const fresh = await this.deps.storage.records.insert({
      kind: 'dpop-proof-jti',
      key: `${project.key}|${verified.jkt}|${verified.jti}`,
      value: {},
      expiresAt: new Date((verified.iat + PROOF_WINDOW_SECONDS + 1) * 1000).toISOString(),
    });
    if (!fresh) throw new InvalidDpopProofError('The DPoP proof was already used (jti)', expected.realm);
    return nonce === undefined ? { jkt: verified.jkt } : { jkt: verified.jkt, nonce };
  }
}
