/** Scope parsing and granting (src/oauth/scopes.ts) and PKCE checks (src/oauth/tokens/pkce.ts). */
import { grantScopes, grantsFullSystemAccess, parseScope } from '../../src/oauth/scopes';
import { s256Challenge, verifyPkce } from '../../src/oauth/tokens/pkce';
import { InvalidGrantError } from '../../src/oauth/errors';

describe('parseScope', () => {
  it('splits on spaces, drops empty and malformed tokens and repeats', () => {
    expect(parseScope('openid  fhirUser openid "quoted" back\\slash system/*.*')).toEqual(['openid', 'fhirUser', 'system/*.*']);
    expect(parseScope('')).toEqual([]);
    expect(parseScope(undefined)).toEqual([]);
  });
});

describe('grantScopes', () => {
  it('grants the requested scopes the client is registered for, in request order, by exact match', () => {
    const client = { scope: 'openid offline_access patient/*.rs' };
    expect(grantScopes(['patient/*.rs', 'openid', 'user/*.*', 'patient/Observation.rs'], client)).toEqual(['patient/*.rs', 'openid']);
    expect(grantScopes(['openid'], {})).toEqual([]);
  });
});

describe('grantsFullSystemAccess', () => {
  it.each([
    [['system/*.*'], true],
    [['system/*.cruds'], true],
    [['system/*.read', 'system/*.write'], true],
    [['system/*.read'], false],
    [['system/*.rs'], false],
    [['system/Patient.*'], false],
    [['user/*.*'], false],
    [[], false],
  ])('%j → %s', (scopes, expected) => {
    expect(grantsFullSystemAccess(scopes)).toBe(expected);
  });
});

describe('verifyPkce', () => {
  // RFC 7636 Appendix B.
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

  it('accepts the RFC 7636 example and computes its challenge', () => {
    expect(s256Challenge(verifier)).toBe(challenge);
    expect(() => verifyPkce(verifier, challenge)).not.toThrow();
  });

  it.each([
    ['another verifier', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX'],
    ['the challenge itself', challenge],
    ['42 characters', verifier.slice(0, 42)],
    ['129 characters', 'a'.repeat(129)],
    ['characters outside the alphabet', `${verifier.slice(0, 42)}+`],
  ])('refuses %s with invalid_grant', (_name, candidate) => {
    expect(() => verifyPkce(candidate, challenge)).toThrow(InvalidGrantError);
  });
});
