/**
 * SMART App Launch 2.x discovery: `{FHIR base}/.well-known/smart-configuration` and the CapabilityStatement's
 * `rest.security`, both carrying the same endpoint URLs as the OIDC discovery document.
 */
import request from 'supertest';
import { SMART_CAPABILITIES } from '../../src/oauth/discovery';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
let issuer: string;
let oauth: string;
beforeAll(async () => {
  t = await buildTestApp();
  issuer = `${t.config.publicUrl}/w/default/default`;
  oauth = `${issuer}/api/v1/oauth`;
});
afterAll(async () => {
  await t.close();
});

const SMART = () => `${t.base}/.well-known/smart-configuration`;

describe('smart-configuration', () => {
  it('is public and lists every field SMART App Launch 2.x asks for', async () => {
    const res = await request(t.app).get(SMART());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({
      issuer,
      jwks_uri: `${oauth}/jwks`,
      authorization_endpoint: `${oauth}/authorize`,
      token_endpoint: `${oauth}/token`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'RS384', 'ES256', 'ES384'],
      grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
      scopes_supported: expect.any(Array),
      response_types_supported: ['code'],
      userinfo_endpoint: `${oauth}/userinfo`,
      introspection_endpoint: `${oauth}/introspect`,
      revocation_endpoint: `${oauth}/revoke`,
      code_challenge_methods_supported: ['S256'],
      pushed_authorization_request_endpoint: `${oauth}/par`,
      registration_endpoint: `${oauth}/register`,
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'],
      capabilities: [
        'launch-ehr',
        'launch-standalone',
        'authorize-post',
        'client-public',
        'client-confidential-symmetric',
        'client-confidential-asymmetric',
        'context-passthrough-banner',
        'context-passthrough-style',
        'context-ehr-patient',
        'context-ehr-encounter',
        'context-standalone-patient',
        'sso-openid-connect',
        'permission-offline',
        'permission-online',
        'permission-patient',
        'permission-user',
        'permission-v1',
        'permission-v2',
      ],
    });
    expect(SMART_CAPABILITIES).toHaveLength(18);
  });

  it('has no management_endpoint: the server has no page for managing authorizations yet', async () => {
    const res = await request(t.app).get(SMART());
    expect(res.status).toBe(200);
    expect(Object.keys(res.body as object)).not.toContain('management_endpoint');
  });

  it('lists the SMART scopes the server understands, v1 and v2', async () => {
    const { scopes_supported: scopes } = (await request(t.app).get(SMART())).body as { scopes_supported: string[] };
    expect(scopes).toEqual(
      expect.arrayContaining([
        'openid',
        'fhirUser',
        'profile',
        'launch',
        'launch/patient',
        'launch/encounter',
        'offline_access',
        'online_access',
        'patient/*.rs',
        'patient/*.cruds',
        'user/*.cruds',
        'system/*.cruds',
        'patient/*.read',
        'user/*.write',
        'system/*.*',
      ]),
    );
    expect(new Set(scopes).size).toBe(scopes.length);
  });

  it('answers application/json even when Accept asks for something else, and ignores _format', async () => {
    for (const accept of ['text/html', 'application/fhir+xml', 'application/fhir+json']) {
      const res = await request(t.app).get(`${SMART()}?_format=xml`).set('Accept', accept);
      expect({ accept, status: res.status, type: res.headers['content-type'] }).toEqual({ accept, status: 200, type: 'application/json; charset=utf-8' });
      expect((JSON.parse(res.text) as { issuer: string }).issuer).toBe(issuer);
    }
  });

  it('carries the same URLs as the OIDC discovery document', async () => {
    const smart = (await request(t.app).get(SMART())).body as Record<string, unknown>;
    const oidc = (await request(t.app).get('/w/default/default/.well-known/openid-configuration')).body as Record<string, unknown>;
    for (const field of ['issuer', 'jwks_uri', 'authorization_endpoint', 'token_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'userinfo_endpoint']) {
      expect({ field, value: smart[field] }).toEqual({ field, value: oidc[field] });
    }
  });

  it('answers 404 {error, error_description} for an unknown tenant or project', async () => {
    const res = await request(t.app).get('/w/nope/nope/api/v1/fhir/r4/.well-known/smart-configuration');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', error_description: 'Unknown tenant or project' });
  });

  it("computes each project's URLs", async () => {
    await t.projects.ensure('acme', 'clinic');
    const res = await request(t.app).get('/w/acme/clinic/api/v1/fhir/r4/.well-known/smart-configuration');
    expect(res.body).toMatchObject({ issuer: `${t.config.publicUrl}/w/acme/clinic`, token_endpoint: `${t.config.publicUrl}/w/acme/clinic/api/v1/oauth/token` });
  });
});

describe('OIDC discovery', () => {
  it('lists prompt_values_supported none, login and consent', async () => {
    const res = await request(t.app).get('/.well-known/openid-configuration/w/default/default');
    expect((res.body as { prompt_values_supported: string[] }).prompt_values_supported).toEqual(['none', 'login', 'consent']);
  });
});

describe('CapabilityStatement security', () => {
  it('declares the SMART-on-FHIR service, CORS, and the oauth-uris equal to the discovery document', async () => {
    const res = await request(t.app).get(`${t.base}/metadata`);
    expect(res.status).toBe(200);
    const rest = (res.body as { rest: Array<Record<string, unknown>> }).rest[0] as Record<string, unknown>;
    const smart = (await request(t.app).get(SMART())).body as Record<string, string>;
    expect(rest.security).toEqual({
      cors: true,
      service: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
          text: expect.any(String),
        },
      ],
      extension: [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [
            { url: 'authorize', valueUri: smart.authorization_endpoint },
            { url: 'token', valueUri: smart.token_endpoint },
            { url: 'introspect', valueUri: smart.introspection_endpoint },
            { url: 'revoke', valueUri: smart.revocation_endpoint },
          ],
        },
      ],
    });
    expect(smart.authorization_endpoint).toBe(`${oauth}/authorize`);
  });

  it('lists the $evaluate-policy and $export operations', async () => {
    const res = await request(t.app).get(`${t.base}/metadata`);
    const rest = (res.body as { rest: Array<{ operation?: unknown }> }).rest[0];
    expect(rest?.operation).toEqual([
      { name: 'evaluate-policy', definition: 'https://fhir-server.dev/OperationDefinition/evaluate-policy' },
      { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' },
    ]);
  });

  it("uses each project's own URLs", async () => {
    await t.projects.ensure('acme', 'metadata');
    const res = await request(t.app).get('/w/acme/metadata/api/v1/fhir/r4/metadata');
    const security = (res.body as { rest: Array<{ security: { extension: Array<{ extension: Array<{ url: string; valueUri: string }> }> } }> }).rest[0]?.security;
    expect(security?.extension[0]?.extension[1]).toEqual({ url: 'token', valueUri: `${t.config.publicUrl}/w/acme/metadata/api/v1/oauth/token` });
  });
});
