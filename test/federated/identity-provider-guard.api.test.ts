/**
 * Only owners and admins write IdentityProviders: a user whose AccessPolicy permits every interaction on them is
 * still refused (a provider decides who may sign in as whom, and with autoProvision who gets a Membership), and
 * nothing changes. It may read them, without the client secret. Nor may it link a provider account to an existing
 * User (that account would sign in as the User).
 */
import { accessPolicy, type EscalationWorld, expectRefused, setupEscalationWorld } from '../api/auth-escalation-fixtures';

let w: EscalationWorld;
beforeAll(async () => {
  w = await setupEscalationWorld();
  await w.put({
    ...accessPolicy('idp-policy', ['Membership/m-manager']),
    rule: [{ name: 'manage identity providers', target: { expression: "%request.resourceType = 'IdentityProvider'" } }],
  });
  await w.put({ resourceType: 'IdentityProvider', id: 'corp', name: 'Corp', status: 'active', issuer: 'https://idp.corp.example', clientId: 'fhir', clientSecret: 'corp secret' });
});
afterAll(async () => {
  await w.close();
});

const body = { resourceType: 'IdentityProvider', name: 'Evil', status: 'active', issuer: 'https://evil.example', clientId: 'x', clientSecret: 'y', autoProvision: true };
const REASON = 'only owners and admins may write IdentityProvider resources';

it('refuses every write by a non-admin that a policy permits, and changes nothing', async () => {
  const before = await w.stored('IdentityProvider', 'corp');
  expectRefused(await w.manager.post('/IdentityProvider', body), REASON);
  expectRefused(await w.manager.put('/IdentityProvider/corp', { ...body, id: 'corp' }), REASON);
  expectRefused(await w.manager.patch('/IdentityProvider/corp', [{ op: 'replace', path: '/issuer', value: 'https://evil.example' }]), REASON);
  expectRefused(await w.manager.delete('/IdentityProvider/corp'), REASON);
  expect(await w.stored('IdentityProvider', 'corp')).toEqual(before);
  const read = await w.manager.get('/IdentityProvider/corp');
  expect(read.status).toBe(200);
  expect(read.body.clientSecret).toBeUndefined();
});

it('refuses a non-admin linking or changing the provider identity of an existing User', async () => {
  const clerk = (await w.admin.get('/User/clerk')).body as Record<string, unknown>;
  const before = await w.stored('User', 'clerk');
  const { meta: _meta, ...body } = clerk;
  expectRefused(
    await w.manager.put('/User/clerk', { ...body, identity: [{ provider: { reference: 'IdentityProvider/corp' }, subject: 'the manager at corp' }] }),
    'only owners and admins may change the linked identities of an existing User',
  );
  expect(await w.stored('User', 'clerk')).toEqual(before);
});
