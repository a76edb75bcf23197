/**
 * ProjectSettings (docs/projects.md "Project settings"): one per project at ProjectSettings/settings, written by
 * owners and admins; the authorization server reads it on the next request (token lifetimes, smart_style_url,
 * need_patient_banner, consent default, CORS origins, sign-in rate limit). Defaults are the configuration.
 */
import { decodeJwt } from 'jose';
import request from 'supertest';
import { clientCredentialsToken } from '../helpers/build-test-app';
import { authorizeQuery, Browser, pkce as pagePkce, putClient, putUser, submitLogin, validParams } from './authorize-helpers';
import { ADMIN, codeTokens, FHIR, OAUTH, type OAuthFixture, oauthPost, setupOAuth } from './oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;

beforeAll(async () => {
  fx = await setupOAuth({ ADMIN_CLIENT_ID: ADMIN[0], LOGIN_MAX_FAILURES: '50' });
});
afterAll(async () => {
  await fx.t.close();
});

function putSettings(body: Record<string, unknown>, token = fx.t.adminToken): request.Test {
  return request(fx.t.app).put(`${FHIR}/ProjectSettings/settings`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'ProjectSettings', id: 'settings', ...body });
}

async function backendToken(): Promise<Record<string, unknown>> {
  const res = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN);
  expect(res.status).toBe(200);
  return res.body as Record<string, unknown>;
}

describe('ProjectSettings', () => {
  it('starts from the configuration and applies a change to the next token', async () => {
    expect((await request(fx.t.app).get(`${FHIR}/ProjectSettings/settings`).set('Authorization', `Bearer ${fx.t.adminToken}`)).status).toBe(404);
    expect((await backendToken()).expires_in).toBe(300);
    const user = await codeTokens(fx);
    expect(user.expires_in).toBe(3600);

    const put = await putSettings({ backendAccessTokenLifetime: 120, accessTokenLifetime: 900, idTokenLifetime: 60 });
    expect(put.status).toBe(201);
    expect((await backendToken()).expires_in).toBe(120);
    const after = await codeTokens(fx);
    expect(after.expires_in).toBe(900);
    const id = decodeJwt(after.id_token as string);
    expect((id.exp as number) - (id.iat as number)).toBe(60);
    const access = decodeJwt(after.access_token as string);
    expect((access.exp as number) - (access.iat as number)).toBe(900);
  });

  it('sets smart_style_url and need_patient_banner of standalone launches', async () => {
    await putSettings({ smartStyleUrl: 'https://style.example/{tenant}/{project}.json', needPatientBanner: false });
    const tokens = await codeTokens(fx, { launch: { source: 'standalone', patient: 'patient-ada' } });
    expect(tokens.smart_style_url).toBe('https://style.example/default/default.json');
    expect(tokens.need_patient_banner).toBe(false);
    await putSettings({});
    const defaults = await codeTokens(fx, { launch: { source: 'standalone', patient: 'patient-ada' } });
    expect(defaults.smart_style_url).toBe(`${fx.issuer}/api/v1/oauth/smart-style.json`);
    expect(defaults.need_patient_banner).toBe(true);
  });

  it('adds its allowed origins to CORS', async () => {
    const origin = 'https://dashboard.settings.example';
    const before = await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', `Bearer ${fx.t.adminToken}`).set('Origin', origin);
    expect(before.headers['access-control-allow-origin']).toBeUndefined();
    expect((await putSettings({ allowedOrigin: [origin] })).status).toBe(200);
    const after = await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', `Bearer ${fx.t.adminToken}`).set('Origin', origin);
    expect(after.headers['access-control-allow-origin']).toBe(origin);
  });

  it('makes consent the default or not for clients that do not say', async () => {
    await putClient(fx.t, 'app');
    const member = await putUser(fx.t, 'consenting');
    const signIn = async (): Promise<request.Response> => {
      const browser = new Browser(fx.t.app);
      const { challenge } = pagePkce();
      const start = await browser.get(authorizeQuery(validParams(challenge)));
      return submitLogin(browser, start, member);
    };
    const asked = await signIn();
    expect(asked.status).toBe(303);
    expect(String(asked.headers.location)).toContain('consent');
    await putSettings({ consentRequired: false });
    const skipped = await signIn();
    expect(skipped.status).toBe(303);
    expect(String(skipped.headers.location)).toMatch(/^https:\/\/app\.example\/callback\?code=/);
    await putSettings({});
  });

  it('limits failed sign-ins per minute', async () => {
    await putClient(fx.t, 'app');
    const member = await putUser(fx.t, 'limited');
    await putSettings({ loginRateLimit: 2 });
    const attempt = async (password: string): Promise<number> => {
      const browser = new Browser(fx.t.app);
      const { challenge } = pagePkce();
      const start = await browser.get(authorizeQuery(validParams(challenge)));
      return (await submitLogin(browser, start, { email: member.email, password })).status;
    };
    expect(await attempt('wrong')).toBe(401);
    expect(await attempt('wrong')).toBe(401);
    expect(await attempt(member.password)).toBe(429);
    await putSettings({});
  });

  it('refuses invalid settings with a 400 naming the element', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ accessTokenLifetime: 100_000 }, 'ProjectSettings.accessTokenLifetime'],
      [{ idTokenLifetime: 0 }, 'ProjectSettings.idTokenLifetime'],
      [{ refreshTokenLifetime: 10 ** 9 }, 'ProjectSettings.refreshTokenLifetime'],
      [{ allowedOrigin: ['https://ok.example', 'https://app.example/path'] }, 'ProjectSettings.allowedOrigin[1]'],
      [{ smartStyleUrl: 'not a url' }, 'ProjectSettings.smartStyleUrl'],
      [{ loginRateLimit: 0 }, 'ProjectSettings.loginRateLimit'],
      [{ needPatientBanner: 'yes' }, 'ProjectSettings.needPatientBanner'],
    ];
    for (const [body, expression] of cases) {
      const res = await putSettings(body);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(res.body.issue)).toContain(expression);
    }
    const other = await request(fx.t.app).put(`${FHIR}/ProjectSettings/other`).set('Authorization', `Bearer ${fx.t.adminToken}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'ProjectSettings', id: 'other' });
    expect(other.status).toBe(400);
    expect(other.body.issue[0].expression).toEqual(['ProjectSettings.id']);
    const posted = await request(fx.t.app).post(`${FHIR}/ProjectSettings`).set('Authorization', `Bearer ${fx.t.adminToken}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'ProjectSettings' });
    expect(posted.status).toBe(400);
  });

  it('is written by owners and admins only, whatever a policy permits', async () => {
    await fx.repo.update('ClientApplication', 'everything-but-admin', {
      resourceType: 'ClientApplication',
      id: 'everything-but-admin',
      name: 'broad client',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: 'broad-client-secret',
      scope: 'system/*.*',
    });
    await fx.repo.update('AccessPolicy', 'broad', {
      resourceType: 'AccessPolicy',
      id: 'broad',
      name: 'everything by rule',
      engine: 'rule-engine',
      target: [{ link: { reference: 'ClientApplication/everything-but-admin' } }],
      rule: [{ name: 'all' }],
    });
    const token = await clientCredentialsToken(fx.t.app, 'default', 'default', 'everything-but-admin', 'broad-client-secret');
    const res = await putSettings({ consentRequired: false }, token);
    expect(res.status).toBe(403);
    expect(res.body.issue[0].diagnostics).toContain('owners and admins');
    expect((await request(fx.t.app).get(`${FHIR}/ProjectSettings/settings`).set('Authorization', `Bearer ${token}`)).body.consentRequired).toBeUndefined();
  });
});
