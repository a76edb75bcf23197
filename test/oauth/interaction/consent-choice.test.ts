import { allowedScopes, splitConsentScopes } from '../../../src/oauth/interaction/consent-choice';
import { InteractionPageError } from '../../../src/oauth/interaction/errors';

const SCOPES = ['openid', 'patient/Observation.rs', 'fhirUser', 'launch/patient', 'offline_access', 'patient/Patient.read', 'user/*.cruds'];

describe('splitConsentScopes', () => {
  it('makes resource scopes choosable and keeps the identity, launch and access-duration scopes fixed, in request order', () => {
    expect(splitConsentScopes([...SCOPES, 'profile', 'email', 'launch', 'launch/encounter', 'online_access', 'system/Patient.rs'])).toEqual({
      choosable: ['patient/Observation.rs', 'patient/Patient.read', 'user/*.cruds', 'system/Patient.rs'],
      fixed: ['openid', 'fhirUser', 'launch/patient', 'offline_access', 'profile', 'email', 'launch', 'launch/encounter', 'online_access'],
    });
  });

  it('treats a scope it cannot classify as choosable, never as fixed', () => {
    expect(splitConsentScopes(['openid', 'something:else'])).toEqual({ choosable: ['something:else'], fixed: ['openid'] });
  });
});

describe('allowedScopes', () => {
  it('grants the fixed scopes and the ticked ones: none, one (a string) or several (an array)', () => {
    expect(allowedScopes(SCOPES, undefined)).toEqual(['openid', 'fhirUser', 'launch/patient', 'offline_access']);
    expect(allowedScopes(SCOPES, 'patient/Patient.read')).toEqual(['openid', 'fhirUser', 'launch/patient', 'offline_access', 'patient/Patient.read']);
    expect(allowedScopes(SCOPES, ['user/*.cruds', 'patient/Observation.rs', 'user/*.cruds'])).toEqual([
      'openid', 'patient/Observation.rs', 'fhirUser', 'launch/patient', 'offline_access', 'user/*.cruds',
    ]);
  });

  it.each([
    ['a scope outside the request', ['patient/Encounter.rs']],
    ['a narrower form of a requested scope', 'patient/Observation.r'],
    ['a fixed scope', 'openid'],
    ['a non-string value', [{ scope: 'patient/Observation.rs' }]],
    ['an empty value', ''],
  ])('refuses %s with a 400 page', (_, posted) => {
    let thrown: unknown;
    try {
      allowedScopes(SCOPES, posted);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InteractionPageError);
    expect(thrown).toMatchObject({ status: 400, title: 'This form could not be processed' });
  });
});
