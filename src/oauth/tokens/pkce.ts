/**
 * PKCE (RFC 7636) with S256 only: the verifier is 43–128 characters of the unreserved alphabet (§4.1), and its
 * SHA-256, base64url-encoded, must equal the challenge stored with the code (§4.6). A verifier that equals the
 * challenge is refused: that is what a `plain` client, or one replaying the challenge it saw, would send.
 */
import { createHash } from 'node:crypto';
import { InvalidGrantError } from '../errors';

/** RFC 7636 §4.1: `code-verifier = 43*128unreserved`. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * The S256 challenge of a verifier.
 * @param verifier - the code verifier
 * @returns BASE64URL(SHA256(verifier))
 */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * Checks a token request's verifier against the challenge of the authorization request.
 * @param verifier - `code_verifier` from the token request
 * @param challenge - the stored `code_challenge`
 * @throws InvalidGrantError when the verifier is malformed, equals the challenge, or does not hash to it
 */
export function verifyPkce(verifier: string, challenge: string): void {
  if (!VERIFIER.test(verifier)) throw new InvalidGrantError('code_verifier must be 43-128 characters of [A-Za-z0-9-._~]');
  if (verifier === challenge || s256Challenge(verifier) !== challenge) throw new InvalidGrantError('code_verifier does not match the code challenge');
}
