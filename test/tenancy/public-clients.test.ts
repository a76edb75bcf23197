/**
 * A project created through the Project API gets every public ClientApplication of seed/bootstrap.json (never the
 * confidential admin client), with `{{PUBLIC_URL}}` filled in.
 */
import { readSeedBundle } from '../../src/seed/bootstrap';
import { publicClientEntries } from '../../src/tenancy/provision';

describe('public clients of the bootstrap bundle', () => {
  it('keeps only ClientApplications with tokenEndpointAuthMethod none', () => {
    const bundle = {
      entry: [
        { resource: { resourceType: 'User', id: 'owner', tokenEndpointAuthMethod: 'none' }, request: { method: 'PUT', url: 'User/owner' } },
        { resource: { resourceType: 'ClientApplication', id: 'admin-cli', tokenEndpointAuthMethod: 'client_secret_basic' }, request: { method: 'PUT', url: 'ClientApplication/admin-cli' } },
        { resource: { resourceType: 'ClientApplication', id: 'cli', tokenEndpointAuthMethod: 'none' }, request: { method: 'PUT', url: 'ClientApplication/cli' } },
        { resource: { resourceType: 'ClientApplication', id: 'backend' }, request: { method: 'PUT', url: 'ClientApplication/backend' } },
      ],
    };
    expect(publicClientEntries(bundle).map((e) => e.resource?.id)).toEqual(['cli']);
  });

  it('never includes the admin client of the real bootstrap bundle', async () => {
    const bundle = await readSeedBundle('bootstrap', { ADMIN_CLIENT_ID: 'admin-cli', ADMIN_EMAIL: 'a@example.org', PUBLIC_URL: 'https://fhir.example.test' });
    const entries = publicClientEntries(bundle);
    expect(entries.map((e) => e.resource?.id)).not.toContain('admin-cli');
    for (const entry of entries) {
      expect(entry.resource?.tokenEndpointAuthMethod).toBe('none');
      expect(JSON.stringify(entry)).not.toContain('{{PUBLIC_URL}}');
    }
  });
});
