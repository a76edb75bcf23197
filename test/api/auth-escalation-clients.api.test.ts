/**
 * A non-admin user manager whose AccessPolicy permits every interaction on ClientApplication cannot take over a
 * client (docs/access-policies.md "Writing auth resources"): on an existing client only the descriptive fields
 * and `status` change; a deleted client id is not re-created, an id a policy names is not created, a client
 * that skips consent is not created, and a client with a full-access policy is not written at all. A client
 * principal never writes its own ClientApplication. Each refusal is a 403 OperationOutcome and changes nothing;
 * the credentials it tried to set do not authenticate.
 */
import { expectOAuthError, fhirGet, oauthPost, REDIRECT } from '../oauth/oauth-fixtures';
import { accessPolicy, backendClient, caller, type EscalationWorld, expectRefused, setupEscalationWorld, snapshot, GUARDED } from './auth-escalation-fixtures';

let w: EscalationWorld;
beforeAll(async () => {
  w = await setupEscalationWorld();
});
afterAll(async () => {
  await w.close();
});

async function refused(paths: string[], write: () => Promise<import('supertest').Response>, reason: string): Promise<void> {
  const before = await snapshot(w, paths);
  expectRefused(await write(), reason);
  expect(await snapshot(w, paths)).toEqual(before);
}

const settings = (fields: string) => `only owners and admins may change the credentials or OAuth settings of an existing ClientApplication (${fields})`;

describe('existing clients', () => {
  it('refuses a new secret for a client a policy targets; the secret tried does not authenticate', async () => {
    const lab = (await w.admin.get('/ClientApplication/lab')).body as Record<string, unknown>;
    await refused(['/ClientApplication/lab'], () => w.manager.put('/ClientApplication/lab', { ...lab, secret: 'chosen by the manager' }), settings('secret'));
    await refused(['/ClientApplication/lab'], () => w.manager.patch('/ClientApplication/lab', [{ op: 'add', path: '/secret', value: 'chosen by the manager' }]), settings('secret'));
    expectOAuthError(await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, ['lab', 'chosen by the manager']), 401, 'invalid_client');
    expect((await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, ['lab', 'secret of the lab client'])).status).toBe(200);
  });

  it('refuses changing how a client authenticates, where it redirects, what it may be granted, or whether users are asked', async () => {
    const web = (await w.admin.get('/ClientApplication/web-app')).body as Record<string, unknown>;
    const paths = ['/ClientApplication/web-app', '/ClientApplication/web-app/_history'];
    await refused(paths, () => w.manager.put('/ClientApplication/web-app', { ...web, redirectUri: ['https://manager.example/cb'] }), settings('redirectUri'));
    await refused(paths, () => w.manager.patch('/ClientApplication/web-app', [{ op: 'add', path: '/redirectUri/-', value: 'https://manager.example/cb' }]), settings('redirectUri'));
    await refused(
      paths,
      () => w.manager.put('/ClientApplication/web-app', { ...web, tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: 'https://manager.example/jwks' }),
      settings('jwksUri, tokenEndpointAuthMethod'),
    );
    await refused(paths, () => w.manager.patch('/ClientApplication/web-app', [{ op: 'add', path: '/jwks', value: '{"keys":[]}' }]), settings('jwks'));
    await refused(paths, () => w.manager.patch('/ClientApplication/web-app', [{ op: 'add', path: '/grantType/-', value: 'client_credentials' }]), settings('grantType'));
    await refused(paths, () => w.manager.patch('/ClientApplication/web-app', [{ op: 'add', path: '/consentRequired', value: false }]), settings('consentRequired'));
    await refused(paths, () => w.manager.patch('/ClientApplication/web-app', [{ op: 'replace', path: '/scope', value: 'user/*.* system/*.*' }]), settings('scope'));
    await refused(paths, () => w.manager.patch('/ClientApplication/web-app', [{ op: 'add', path: '/launchUri', value: 'https://manager.example/launch' }]), settings('launchUri'));
    expect((await w.admin.get('/ClientApplication/web-app')).body.redirectUri).toEqual([REDIRECT]);
  });

  it('lets the manager describe, deactivate and reactivate a client, and delete one', async () => {
    const lab = (await w.admin.get('/ClientApplication/lab')).body as Record<string, unknown>;
    const described = await w.manager.put('/ClientApplication/lab', { ...lab, description: 'Lab results feed', logoUri: 'https://lab.example/logo.png' });
    expect(described.status).toBe(200);
    expect((await w.manager.patch('/ClientApplication/lab', [{ op: 'replace', path: '/status', value: 'inactive' }])).status).toBe(200);
    expectOAuthError(await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, ['lab', 'secret of the lab client']), 401, 'invalid_client');
    expect((await w.manager.patch('/ClientApplication/lab', [{ op: 'replace', path: '/status', value: 'active' }])).status).toBe(200);
    expect((await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, ['lab', 'secret of the lab client'])).status).toBe(200);
    await w.put(backendClient('disposable', 'secret of a disposable client'));
    expect((await w.manager.delete('/ClientApplication/disposable')).status).toBe(204);
  });
});

describe('new clients', () => {
  it('refuses re-creating a deleted client id, with or without a secret', async () => {
    const reason = GUARDED;
    const paths = ['/ClientApplication/c-gone/_history'];
    await refused(paths, () => w.manager.put('/ClientApplication/c-gone', backendClient('c-gone', 'chosen by the manager')), reason);
    const { secret: _secret, ...withoutSecret } = backendClient('c-gone', '');
    await refused(paths, () => w.manager.put('/ClientApplication/c-gone', withoutSecret), reason);
    expectOAuthError(await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, ['c-gone', 'chosen by the manager']), 401, 'invalid_client');
  });

  it('refuses creating a client whose id a policy names, or one that skips consent', async () => {
    await refused(
      ['/ClientApplication/c-future', '/AccessPolicy/future-policy'],
      () => w.manager.put('/ClientApplication/c-future', backendClient('c-future', 'chosen by the manager')),
      GUARDED,
    );
    await refused(
      ['/ClientApplication?_count=100'],
      () =>
        w.manager.post('/ClientApplication', {
          resourceType: 'ClientApplication',
          name: 'silent app',
          grantType: ['authorization_code'],
          tokenEndpointAuthMethod: 'none',
          redirectUri: ['https://manager.example/cb'],
          consentRequired: false,
        }),
      'only owners and admins may create a ClientApplication that skips consent (consentRequired false)',
    );
    const asked = await w.manager.post('/ClientApplication', {
      resourceType: 'ClientApplication',
      name: 'asking app',
      grantType: ['authorization_code'],
      tokenEndpointAuthMethod: 'none',
      redirectUri: ['https://manager.example/cb'],
    });
    expect(asked.status).toBe(201);
  });
});

describe('privileged clients and client principals', () => {
  it('refuses every write of a client a full-access policy targets', async () => {
    const reason = GUARDED;
    const paths = ['/ClientApplication/fa-client', '/ClientApplication/admin-cli'];
    const fa = (await w.admin.get('/ClientApplication/fa-client')).body as Record<string, unknown>;
    await refused(paths, () => w.manager.put('/ClientApplication/fa-client', { ...fa, description: 'harmless' }), reason);
    await refused(paths, () => w.manager.patch('/ClientApplication/admin-cli', [{ op: 'add', path: '/status', value: 'inactive' }]), reason);
    await refused(paths, () => w.manager.delete('/ClientApplication/fa-client'), reason);
  });

  it('never lets a client write its own ClientApplication, even when its policy permits writing clients', async () => {
    await w.put(backendClient('provisioner', 'secret of the provisioner'));
    await w.put({
      ...accessPolicy('provisioner-policy', ['ClientApplication/provisioner']),
      rule: [{ name: 'manage clients', target: { expression: "%request.resourceType = 'ClientApplication'" } }],
    });
    const token = (await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, ['provisioner', 'secret of the provisioner'])).body.access_token as string;
    const provisioner = caller(w.fx, token);
    const own = (await w.admin.get('/ClientApplication/provisioner')).body as Record<string, unknown>;
    await refused(['/ClientApplication/provisioner'], () => provisioner.put('/ClientApplication/provisioner', { ...own, description: 'x' }), 'a client may not write its own ClientApplication');
    expect((await fhirGet(w.fx.t, token, '/ClientApplication/lab')).status).toBe(200);
  });
});
