/** Fixtures of the bulk export tests. */
import { clientCredentialsToken, type TestApp } from '../helpers/build-test-app';

type Json = Record<string, unknown>;

/**
 * Registers a client_credentials client with these scopes and AccessPolicies (a full-access one when none is
 * given) through the FHIR API with the admin token, and obtains its token.
 * @param app - the test app
 * @param id - the client id
 * @param scope - the scopes it may be granted (and asks for)
 * @param policies - AccessPolicy bodies without id, name and target
 * @returns the access token
 */
export async function clientToken(app: TestApp, id: string, scope: string, policies: Json[] = [{ engine: 'full-access' }]): Promise<string> {
  const secret = `${id}-secret-0123456789`;
  const put = async (resource: Json): Promise<void> => {
    const res = await app.api.put(`${app.base}/${String(resource.resourceType)}/${String(resource.id)}`).send(resource);
    if (res.status >= 300) throw new Error(`PUT ${String(resource.resourceType)}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  await put({ resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope });
  for (const [i, policy] of policies.entries()) {
    await put({ resourceType: 'AccessPolicy', id: `${id}-${i}`, name: `${id} ${i}`, target: [{ link: { reference: `ClientApplication/${id}` } }], ...policy });
  }
  return clientCredentialsToken(app.app, app.config.bootstrapTenant, app.config.bootstrapProject, id, secret);
}
