/**
 * The SMART context parameters of token responses (SMART App Launch 2.x "fhirContext"): `fhirContext` lists the
 * launch's other context resources and never repeats the launch patient or encounter, unless an item names a
 * role other than `launch`; a refresh answers the same context.
 */
import { codeTokens, oauthPost, type OAuthFixture, setupOAuth, WEB } from '../oauth/oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

const SOURCE_ROLE = 'https://example.org/fhir-context-role/source-patient';

describe('fhirContext', () => {
  it('leaves out items that repeat the launch patient or encounter, keeps the others and non-launch roles', async () => {
    const launch = {
      source: 'ehr',
      patient: 'p1',
      encounter: 'e1',
      fhirContext: [
        { reference: 'Patient/p1' },
        { reference: 'Encounter/e1', role: 'launch' },
        { reference: 'ImagingStudy/is-1' },
        { reference: 'Patient/p1', role: SOURCE_ROLE },
        { reference: 'Patient/p2' },
        { reference: 'Encounter/e2', role: 'launch' },
      ],
    };
    const tokens = await codeTokens(fx, { launch });
    const context = [{ reference: 'ImagingStudy/is-1' }, { reference: 'Patient/p1', role: SOURCE_ROLE }, { reference: 'Patient/p2' }, { reference: 'Encounter/e2', role: 'launch' }];
    expect(tokens).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'openid fhirUser offline_access user/*.*',
      refresh_token: expect.any(String),
      id_token: expect.any(String),
      fhirUser: `${fx.fhirBaseUrl}/Patient/patient-ada`,
      patient: 'p1',
      encounter: 'e1',
      fhirContext: context,
      need_patient_banner: false,
      smart_style_url: `${fx.issuer}/api/v1/oauth/smart-style.json`,
    });
    const refreshed = await oauthPost(fx.t, 'token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }, WEB);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ patient: 'p1', encounter: 'e1', fhirContext: context });
  });

  it('is absent when the launch has nothing besides its patient and encounter', async () => {
    const tokens = await codeTokens(fx, { launch: { source: 'ehr', patient: 'p1', encounter: 'e1', fhirContext: [{ reference: 'Encounter/e1' }, { reference: 'Patient/p1' }] } });
    expect(tokens).toMatchObject({ patient: 'p1', encounter: 'e1' });
    expect(tokens).not.toHaveProperty('fhirContext');
    const standalone = await codeTokens(fx, { launch: { source: 'standalone', patient: 'p1' } });
    expect(standalone).toMatchObject({ patient: 'p1', need_patient_banner: true });
    expect(standalone).not.toHaveProperty('fhirContext');
  });
});
