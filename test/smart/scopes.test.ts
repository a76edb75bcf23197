import { isKnownScope, parseResourceScope } from '../../src/smart/scopes';

const perms = (token: string) => [...(parseResourceScope(token)?.permissions ?? [])].sort().join('');

describe('parseResourceScope', () => {
  it('reads v1 scopes: read = rs, write = cud, * = cruds', () => {
    expect(parseResourceScope('patient/Observation.read')).toMatchObject({ context: 'patient', resourceType: 'Observation', version: 1 });
    expect(perms('patient/Observation.read')).toBe('rs');
    expect(perms('user/*.write')).toBe('cdu');
    expect(perms('system/*.*')).toBe('cdrsu');
  });

  it('reads v2 scopes in canonical order, with wildcards', () => {
    expect(parseResourceScope('patient/Observation.rs')).toMatchObject({ version: 2, resourceType: 'Observation' });
    expect(perms('user/*.cruds')).toBe('cdrsu');
    expect(perms('system/Patient.cud')).toBe('cdu');
    expect(perms('patient/Encounter.s')).toBe('s');
  });

  it('reads a restriction query, decoding it', () => {
    const scope = parseResourceScope('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory&status=final');
    expect(scope?.restriction).toEqual([
      ['category', 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory'],
      ['status', 'final'],
    ]);
  });

  it.each([
    'patient/Observation.sr',
    'patient/Observation.rrs',
    'patient/Observation.',
    'patient/Observation.x',
    'patient/NotAType.rs',
    'clinician/Observation.rs',
    'patient/Observation.read?category=x',
    'patient/Observation.rs?',
    'patient/Observation.rs?=x',
    'patient/Observation.rs?a=%ZZ',
    'openid',
  ])('refuses %s (out of order, repeated, unknown, or malformed: never wider access)', (token) => {
    expect(parseResourceScope(token)).toBeUndefined();
  });
});

describe('isKnownScope', () => {
  it('knows the OpenID and launch scopes and valid resource scopes, nothing else', () => {
    for (const token of ['openid', 'fhirUser', 'profile', 'email', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access', 'user/*.rs']) {
      expect(isKnownScope(token)).toBe(true);
    }
    for (const token of ['admin', 'launch/other', 'user/*.sr', '']) expect(isKnownScope(token)).toBe(false);
  });
});
