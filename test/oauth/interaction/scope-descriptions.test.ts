import { describeResourceScope, describeScope, SCOPE_DESCRIBERS } from '../../../src/oauth/interaction/scope-descriptions';

describe('describeScope', () => {
  it.each([
    ['openid', 'Confirm your identity'],
    ['offline_access', 'Stay signed in and keep access when you are not using the app, until you revoke it'],
    ['fhirUser', 'Know which person record (patient or practitioner) you are'],
    ['patient/Observation.read', 'Read and search your Observation records'],
    ['patient/Observation.rs', 'Read and search your Observation records'],
    ['patient/*.read', 'Read and search all your health records'],
    ['user/Patient.cruds', 'Create, read, change, delete and search Patient records you have access to'],
    ['user/*.*', 'Read, search, create, change and delete all records you have access to'],
    ['system/Patient.write', 'Create, change and delete all Patient records in this project'],
    ['patient/Observation.rs?category=laboratory', 'Read and search your Observation records (only where category = laboratory)'],
  ])('describes %s', (scope, text) => {
    expect(describeScope(scope)).toBe(text);
  });

  it('names unknown scopes as they are', () => {
    expect(describeScope('weird:scope')).toBe('Use the permission "weird:scope"');
    expect(describeResourceScope('patient/Observation.xyz')).toBeUndefined();
  });

  it('lets a describer in front of the list take over', () => {
    SCOPE_DESCRIBERS.unshift((scope) => (scope === 'launch/patient' ? 'Pick a patient' : undefined));
    try {
      expect(describeScope('launch/patient')).toBe('Pick a patient');
    } finally {
      SCOPE_DESCRIBERS.shift();
    }
    expect(describeScope('launch/patient')).toBe('Know which patient is selected');
  });
});
