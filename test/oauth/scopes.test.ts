/** Scope parsing and granting (src/oauth/scopes.ts) and PKCE checks (src/oauth/tokens/pkce.ts). */
import { grantScopes, grantsFullSystemAccess, parseScope, withinRegistration } from '../../src/oauth/scopes';
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
  it('grants requested scopes the client is registered for, or covered by a registered resource scope, in request order', () => {
    const client = { scope: 'openid offline_access patient/*.rs user/Observation.cruds?category=lab unknown-scope' };
    expect(grantScopes(['patient/*.rs', 'openid', 'user/*.*', 'patient/Observation.rs', 'patient/Patient.read'], client)).toEqual([
      'patient/*.rs',
      'openid',
      'patient/Observation.rs',
      'patient/Patient.read',
    ]);
    expect(grantScopes(['openid'], {})).toEqual([]);
  });

  it('never widens: more permissions, another context, a missing restriction, malformed or unknown scopes are dropped', () => {
    const client = { scope: 'patient/Observation.rs user/Observation.cruds?category=lab unknown-scope launch' };
    expect(grantScopes(['patient/Observation.cruds', 'user/Observation.rs', 'patient/Observation.sr', 'unknown-scope', 'launch'], client)).toEqual(['launch']);
    expect(grantScopes(['user/Observation.rs?category=lab', 'user/Observation.rs?category=other'], client)).toEqual(['user/Observation.rs?category=lab']);
  });

  it('gives system/ scopes only to client_credentials, and nothing else to it', () => {
    const client = { scope: 'openid system/*.rs user/*.rs' };
    expect(grantScopes(['openid', 'system/Patient.rs', 'user/Patient.rs'], client)).toEqual(['openid', 'user/Patient.rs']);
    expect(grantScopes(['openid', 'system/Patient.rs', 'user/Patient.rs'], client, 'client_credentials')).toEqual(['system/Patient.rs']);
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

describe('withinRegistration', () => {
  it('keeps what the registration covers, narrows wildcards to the registered scopes, drops the rest', () => {
    const client = { scope: 'openid offline_access user/Patient.read user/Observation.rs' };
    expect(withinRegistration(['openid', 'fhirUser', 'offline_access', 'user/*.*'], client).sort()).toEqual(['offline_access', 'openid', 'user/Observation.rs', 'user/Patient.read']);
    expect(withinRegistration(['user/Patient.read'], client)).toEqual(['user/Patient.read']);
    expect(withinRegistration(['user/Encounter.read'], client)).toEqual([]);
    expect(withinRegistration(['openid', 'user/*.*'], { scope: 'openid user/*.*' }).sort()).toEqual(['openid', 'user/*.*']);
  });
});
