/**
 * A non-admin user manager, whose AccessPolicy permits every interaction on User, Membership, AccessPolicy and
 * ClientApplication, cannot escalate (docs/access-policies.md "Writing auth resources"): no AccessPolicy write,
 * no takeover of an owner's or admin's Membership, no move of a Membership to another user (also by re-creating a
 * deleted id), no Membership or User that would inherit policies, no write of privileged Users, no password or
 * email change of an existing User. Each refusal is a 403 OperationOutcome and changes nothing.
 */
import { fhirGet, oauthPost } from '../oauth/oauth-fixtures';
import {
  accessPolicy,
  type EscalationWorld,
  expectRefused,
  member,
  membership,
  setupEscalationWorld,
  snapshot,
  GUARDED,
} from './auth-escalation-fixtures';
import { verifyPassword } from '../../src/security/hashing';

let w: EscalationWorld;
beforeAll(async () => {
  w = await setupEscalationWorld();
  // A puppet: a User the manager creates and knows the password of (allowed: it has no access of its own).
  const puppet = await w.manager.put('/User/puppet', { ...member('puppet'), password: 'the puppet password' });
  expect(puppet.status).toBe(201);
});
afterAll(async () => {
  await w.close();
});

/** Runs a write that must be refused and checks that nothing at `paths` changed. */
async function refused(paths: string[], write: () => Promise<import('supertest').Response>, reason: string): Promise<void> {
  const before = await snapshot(w, paths);
  expectRefused(await write(), reason);
  expect(await snapshot(w, paths)).toEqual(before);
}

const POLICIES = '/AccessPolicy?_count=100';

describe('AccessPolicy', () => {
  it('refuses a full-access policy for a client the manager created, and any edit or delete of a policy', async () => {
    const created = await w.manager.post('/ClientApplication', { resourceType: 'ClientApplication', name: 'manager app', grantType: ['client_credentials'] });
    expect(created.status).toBe(201);
    const clientId = created.body.id as string;
    const reason = 'only owners and admins may write AccessPolicy resources';
    const paths = [POLICIES, '/AccessPolicy/nurse-policy', '/AccessPolicy/manager-policy', '/AccessPolicy/nurse-policy/_history'];
    await refused(paths, () => w.manager.post('/AccessPolicy', accessPolicy('x', [`ClientApplication/${clientId}`], 'full-access')), reason);
    await refused(paths, () => w.manager.put('/AccessPolicy/grab', accessPolicy('grab', [`ClientApplication/${clientId}`], 'full-access')), reason);
    await refused(paths, () => w.manager.put('/AccessPolicy/nurse-policy', accessPolicy('nurse-policy', ['Membership/m-nurse'], 'full-access')), reason);
    await refused(paths, () => w.manager.patch('/AccessPolicy/nurse-policy', [{ op: 'add', path: '/target/-', value: { link: { reference: 'Membership/m-manager' } } }]), reason);
    await refused(paths, () => w.manager.delete('/AccessPolicy/nurse-policy'), reason);
    await refused(paths, () => w.manager.delete('/AccessPolicy/manager-policy'), reason);
    // The client the manager created has no access at all.
    const token = await oauthPost(w.fx.t, 'token', { grant_type: 'client_credentials' }, [clientId, created.body.secret as string]);
    expect(token.status).toBe(200);
    expect((await fhirGet(w.fx.t, token.body.access_token as string, '/Patient')).status).toBe(403);
    expect((await fhirGet(w.fx.t, token.body.access_token as string, '/User')).status).toBe(403);
  });
});

describe('Memberships', () => {
  it("refuses taking over the owner's or an admin's Membership with a puppet, and every write of those Memberships", async () => {
    const reason = GUARDED;
    const paths = ['/Membership/owner', `/Membership/${w.adminMembershipId}`, '/Membership?_count=100'];
    const owner = (await w.admin.get('/Membership/owner')).body as Record<string, unknown>;
    await refused(paths, () => w.manager.put('/Membership/owner', { ...owner, user: { reference: 'User/puppet' } }), reason);
    const adminMembership = (await w.admin.get(`/Membership/${w.adminMembershipId}`)).body as Record<string, unknown>;
    await refused(paths, () => w.manager.put(`/Membership/${w.adminMembershipId}`, { ...adminMembership, user: { reference: 'User/puppet' } }), reason);
    await refused(paths, () => w.manager.patch('/Membership/owner', [{ op: 'replace', path: '/user/reference', value: 'User/puppet' }]), reason);
    await refused(paths, () => w.manager.patch('/Membership/owner', [{ op: 'add', path: '/active', value: false }]), reason);
    await refused(paths, () => w.manager.delete(`/Membership/${w.adminMembershipId}`), reason);
    await refused(paths, () => w.manager.post('/Membership', membership('ignored', 'owner')), reason);
    await refused(paths, () => w.manager.put('/Membership/second-admin', membership('second-admin', w.adminUserId)), reason);
    // Pointing a puppet's Membership at an admin is the same write.
    expect((await w.manager.put('/Membership/m-puppet', membership('m-puppet', 'puppet'))).status).toBe(201);
    await refused(['/Membership/m-puppet'], () => w.manager.put('/Membership/m-puppet', membership('m-puppet', w.adminUserId)), reason);
  });

  it('refuses moving a Membership to another user, also by re-creating a deleted id for someone else', async () => {
    const nurse = (await w.admin.get('/Membership/m-nurse')).body as Record<string, unknown>;
    const paths = ['/Membership/m-nurse', '/Membership/m-nurse/_history', '/Membership/m-gone/_history'];
    const moved = 'only owners and admins may change the user of a Membership';
    await refused(paths, () => w.manager.put('/Membership/m-nurse', { ...nurse, user: { reference: 'User/puppet' } }), moved);
    await refused(paths, () => w.manager.patch('/Membership/m-nurse', [{ op: 'replace', path: '/user', value: { reference: 'User/puppet' } }]), moved);
    await refused(
      paths,
      () => w.manager.put('/Membership/m-gone', membership('m-gone', 'puppet')),
      GUARDED,
    );
    // Re-created for the user it belonged to: allowed (no policy targets it).
    expect((await w.manager.put('/Membership/m-gone', membership('m-gone', 'clerk'))).status).toBe(201);
    // Managing the Membership otherwise is the manager's job.
    expect((await w.manager.patch('/Membership/m-nurse', [{ op: 'replace', path: '/active', value: false }])).status).toBe(200);
    expect((await w.manager.patch('/Membership/m-nurse', [{ op: 'replace', path: '/active', value: true }])).status).toBe(200);
  });

  it('refuses Memberships that policies target: ids named in advance, deleted targeted ids, full-access ones, link changes', async () => {
    const paths = ['/Membership/m-future', '/Membership/m-gone-targeted/_history', '/Membership/m-deputy', '/Membership/m-nurse'];
    const create = GUARDED;
    await refused(paths, () => w.manager.put('/Membership/m-future', membership('m-future', 'puppet')), create);
    await refused(paths, () => w.manager.put('/Membership/m-gone-targeted', membership('m-gone-targeted', 'clerk')), create);
    const fullAccess = GUARDED;
    await refused(paths, () => w.manager.patch('/Membership/m-deputy', [{ op: 'replace', path: '/active', value: false }]), fullAccess);
    await refused(paths, () => w.manager.delete('/Membership/m-deputy'), fullAccess);
    await refused(
      [...paths, '/Membership?user=User/deputy'],
      () => w.manager.put('/Membership/a-deputy', membership('a-deputy', 'deputy')),
      GUARDED,
    );
    await refused(
      paths,
      () => w.manager.patch('/Membership/m-nurse', [{ op: 'replace', path: '/link', value: { reference: 'Practitioner/chief' } }]),
      GUARDED,
    );
  });
});

describe('Users', () => {
  it('refuses every write of owners and admins, and giving the owner or admin role', async () => {
    const reason = 'only owners and admins may grant, change or remove the owner and admin roles';
    const paths = ['/User/owner', `/User/${w.adminUserId}`, '/User/nurse', '/User?_count=100'];
    const owner = (await w.admin.get('/User/owner')).body as Record<string, unknown>;
    await refused(paths, () => w.manager.put('/User/owner', { ...owner, name: { text: 'renamed' } }), reason);
    await refused(paths, () => w.manager.patch(`/User/${w.adminUserId}`, [{ op: 'add', path: '/active', value: false }]), reason);
    await refused(paths, () => w.manager.delete('/User/owner'), reason);
    await refused(paths, () => w.manager.post('/User', { ...member('x'), id: undefined, email: 'new-owner@example.test', role: 'owner' }), reason);
    await refused(paths, () => w.manager.patch('/User/nurse', [{ op: 'replace', path: '/role', value: 'admin' }]), reason);
  });

  it('refuses every write of a User whose Membership a full-access policy targets', async () => {
    const reason = GUARDED;
    const paths = ['/User/deputy'];
    await refused(paths, () => w.manager.patch('/User/deputy', [{ op: 'add', path: '/active', value: false }]), reason);
    await refused(paths, () => w.manager.delete('/User/deputy'), reason);
  });

  it('sets a password only on a new User; never changes the password or email of an existing one', async () => {
    const nurse = (await w.admin.get('/User/nurse')).body as Record<string, unknown>;
    const paths = ['/User/nurse', '/User/puppet'];
    const password = 'only owners and admins may set the password of an existing User';
    await refused(paths, () => w.manager.put('/User/nurse', { ...nurse, password: 'chosen by the manager' }), password);
    await refused(paths, () => w.manager.patch('/User/nurse', [{ op: 'add', path: '/password', value: 'chosen by the manager' }]), password);
    await refused(paths, () => w.manager.patch('/User/puppet', [{ op: 'add', path: '/password', value: 'a new puppet password' }]), password);
    const email = 'only owners and admins may change the email of an existing User';
    await refused(paths, () => w.manager.put('/User/nurse', { ...nurse, email: 'manager+nurse@example.test' }), email);
    await refused(paths, () => w.manager.patch('/User/nurse', [{ op: 'replace', path: '/email', value: 'manager+nurse@example.test' }]), email);
    // Other fields remain the manager's to edit; the stored password hash is kept.
    const hash = ((await w.stored('User', 'nurse')) as { resource: { password: string } }).resource.password;
    expect((await w.manager.put('/User/nurse', { ...nurse, name: { text: 'Nurse Ratched' } })).status).toBe(200);
    const after = ((await w.stored('User', 'nurse')) as { resource: { password: string } }).resource.password;
    expect(after).toBe(hash);
    expect(await verifyPassword('password of the nurse', after)).toBe(true);
  });

  it('refuses creating a User that targeted Memberships name, and reviving a deleted User with a password', async () => {
    await refused(
      ['/User/ghost', '/Membership/m-ghost'],
      () => w.manager.put('/User/ghost', { ...member('ghost'), password: 'ghost password' }),
      GUARDED,
    );
    await refused(
      ['/User/left/_history'],
      () => w.manager.put('/User/left', { ...member('left'), password: 'left password' }),
      'only owners and admins may set the password of a deleted User they re-create',
    );
    await refused(
      ['/User/left/_history'],
      () => w.manager.put('/User/left', { ...member('left'), email: 'other-left@example.test' }),
      'only owners and admins may change the email of a deleted User they re-create',
    );
    expect((await w.manager.put('/User/left', member('left'))).status).toBe(201);
  });
});

describe('Bundles', () => {
  it('fails a transaction with one refused entry as a whole, and refuses only that entry in a batch', async () => {
    const entries = [
      { request: { method: 'PUT', url: 'User/tx-user' }, resource: { ...member('tx-user'), password: 'tx password' } },
      { request: { method: 'PUT', url: 'Membership/owner' }, resource: membership('owner', 'tx-user') },
    ];
    const paths = ['/User/tx-user', '/Membership/owner', '/Membership/owner/_history'];
    const before = await snapshot(w, paths);
    const transaction = await w.manager.post('', { resourceType: 'Bundle', type: 'transaction', entry: entries });
    expect(transaction.status).toBe(403);
    expect(transaction.body.issue[0].code).toBe('forbidden');
    expect(transaction.body.issue[0].diagnostics).toContain(GUARDED);
    expect(await snapshot(w, paths)).toEqual(before);
    const batch = await w.manager.post('', { resourceType: 'Bundle', type: 'batch', entry: entries });
    expect(batch.status).toBe(200);
    expect(batch.body.entry.map((e: { response: { status: string } }) => e.response.status.slice(0, 3))).toEqual(['201', '403']);
    expect((await w.admin.get('/Membership/owner')).body.user).toEqual({ reference: 'User/owner' });
  });

  it('judges a transaction entry against the entries staged before it', async () => {
    expect((await w.manager.put('/Membership/m-clerk', membership('m-clerk', 'clerk'))).status).toBe(201);
    const paths = ['/Membership/m-clerk', '/Membership/m-clerk/_history'];
    const before = await snapshot(w, paths);
    // The second entry re-creates the id the first one deleted: judged as a revival for another user.
    const transaction = await w.manager.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'DELETE', url: 'Membership/m-clerk' } },
        { request: { method: 'PUT', url: 'Membership/m-clerk' }, resource: membership('m-clerk', 'puppet') },
      ],
    });
    expect(transaction.status).toBe(403);
    expect(transaction.body.issue[0].diagnostics).toContain(
      GUARDED,
    );
    expect(await snapshot(w, paths)).toEqual(before);
  });
});
