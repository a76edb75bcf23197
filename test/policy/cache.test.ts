import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processBundle } from '../../src/fhir/bundles/process';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { RequestBudget } from '../../src/fhir/budget';
import type { FhirContext } from '../../src/fhir/rest/fhir-request';
import { AccessControlledRepository } from '../../src/fhir/access/access-controlled-repository';
import type { PolicyPrincipal } from '../../src/policy/types';
import { policyCacheFor } from '../../src/policy/cache';
import { decide } from '../../src/policy/decide';
import { loadPrincipal } from '../../src/policy/principal';
import { openStorage } from '../../src/storage/open';
import type { Storage } from '../../src/storage/ports';
import { request } from './helpers';

const PROJECT = 't/p';
let dir: string;
let storage: Storage;
let repo: FhirRepository;

const claims = { project: PROJECT, clientId: 'app', userId: 'u1', membershipId: 'm1', scopes: ['user/*.*'] };
const readPatient = request('read', 'Patient', { id: 'pat1' });
const patient = { resourceType: 'Patient', id: 'pat1' };
const policyResource = (expression: string) => ({
  resourceType: 'AccessPolicy',
  id: 'ap1',
  name: 'patients',
  engine: 'rule-engine',
  target: [{ link: { reference: 'Membership/m1' } }],
  rule: [{ condition: { expression } }],
});

async function effect(): Promise<string> {
  const cache = policyCacheFor(storage.resources);
  const principal = await loadPrincipal(cache, storage.resources, claims);
  return (await decide(principal, readPatient, patient)).effect;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'policy-cache-'));
  storage = await openStorage({ dataDir: dir });
  repo = new FhirRepository(storage.resources, PROJECT);
  await repo.update('User', 'u1', { resourceType: 'User', id: 'u1', email: 'u1@example.test', role: 'member', password: 'a long password 1' });
  await repo.update('Membership', 'm1', { resourceType: 'Membership', id: 'm1', user: { reference: 'User/u1' }, link: { reference: 'Patient/pat1' }, active: true });
  await repo.update('ClientApplication', 'app', { resourceType: 'ClientApplication', id: 'app', name: 'App', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none', status: 'active' });
  await repo.update('Patient', 'pat1', patient);
  await repo.update('AccessPolicy', 'ap1', policyResource("%resource.id = %fhirUser.id"));
});
afterAll(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

describe('policy cache', () => {
  it('builds the principal without credentials, and serves repeated requests without store reads or compiles', async () => {
    const cache = policyCacheFor(storage.resources);
    cache.invalidate();
    const principal = await loadPrincipal(cache, storage.resources, claims);
    expect(principal).toMatchObject({ kind: 'user', reference: 'Membership/m1', active: true, role: 'member', fhirUser: { resourceType: 'Patient', id: 'pat1' } });
    expect(principal.user).not.toHaveProperty('password');
    expect(principal.client).not.toHaveProperty('secret');
    expect(principal.policies.map((p) => p.id)).toEqual(['ap1']);
    const before = { ...cache.stats };
    for (let i = 0; i < 5; i++) await loadPrincipal(cache, storage.resources, claims);
    expect(cache.stats).toEqual(before);
  });

  it('judges the next request by the new version of a policy', async () => {
    expect(await effect()).toBe('permit');
    await repo.update('AccessPolicy', 'ap1', policyResource("%resource.id = 'someone-else'"));
    expect(await effect()).toBe('deny');
    await repo.patch('AccessPolicy', 'ap1', [{ op: 'replace', path: '/rule/0/condition/expression', value: 'true' }]);
    expect(await effect()).toBe('permit');
  });

  it('sees a deactivated membership, a new policy target and a deleted policy on the next request', async () => {
    await repo.update('AccessPolicy', 'ap1', policyResource('true'));
    expect(await effect()).toBe('permit');
    await repo.update('Membership', 'm1', { resourceType: 'Membership', id: 'm1', user: { reference: 'User/u1' }, link: { reference: 'Patient/pat1' }, active: false });
    const inactive = await loadPrincipal(policyCacheFor(storage.resources), storage.resources, claims);
    expect(inactive.active).toBe(false);
    expect(await effect()).toBe('deny');
    await repo.update('Membership', 'm1', { resourceType: 'Membership', id: 'm1', user: { reference: 'User/u1' }, link: { reference: 'Patient/pat1' }, active: true });
    expect(await effect()).toBe('permit');
    await repo.delete('AccessPolicy', 'ap1');
    expect(await effect()).toBe('deny');
    await repo.update('AccessPolicy', 'ap2', { ...policyResource('true'), id: 'ap2' });
    expect(await effect()).toBe('permit');
  });

  it('sees a role change of the User on the next request', async () => {
    await repo.update('AccessPolicy', 'ap2', { ...policyResource('false'), id: 'ap2' });
    expect(await effect()).toBe('deny');
    await repo.patch('User', 'u1', [{ op: 'replace', path: '/role', value: 'admin' }]);
    expect(await effect()).toBe('permit');
    await repo.patch('User', 'u1', [{ op: 'replace', path: '/role', value: 'member' }]);
    expect(await effect()).toBe('deny');
  });

  it('invalidates when a transaction commits', async () => {
    const owner: PolicyPrincipal = { project: repo.project, kind: 'user', reference: 'Membership/owner', active: true, role: 'owner', scopes: [], policies: [] };
    const ctx = { repo: new AccessControlledRepository(repo, owner), baseUrl: 'https://fhir.example.test/fhir', config: { bundleMaxEntries: 100 }, budget: new RequestBudget(1024 * 1024, 60_000) } as unknown as FhirContext;
    expect(await effect()).toBe('deny');
    await processBundle(
      ctx,
      {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { ...policyResource('true'), id: 'ap2' }, request: { method: 'PUT', url: 'AccessPolicy/ap2' } }],
      },
      undefined,
    );
    expect(await effect()).toBe('permit');
  });

  it('reads %fhirUser afresh on every request, while the rest of the principal comes from the cache', async () => {
    const cache = policyCacheFor(storage.resources);
    const first = await loadPrincipal(cache, storage.resources, claims);
    expect(first.fhirUser).not.toHaveProperty('gender');
    // A Patient write does not invalidate the cache, yet the next principal carries the new version.
    await repo.update('Patient', 'pat1', { ...patient, gender: 'female' });
    const next = await loadPrincipal(cache, storage.resources, claims);
    expect(next.fhirUser).toMatchObject({ id: 'pat1', gender: 'female' });
    expect(next.policies).toBe(first.policies);
    await repo.update('Patient', 'pat1', patient);
  });

  it('keeps a derived value until the project is invalidated, and never one computed across an invalidation', async () => {
    const cache = policyCacheFor(storage.resources);
    let computed = 0;
    const compute = async () => ++computed;
    expect(await cache.derived(PROJECT, 'test\0count', compute)).toBe(1);
    expect(await cache.derived(PROJECT, 'test\0count', compute)).toBe(1);
    cache.invalidate(PROJECT);
    expect(await cache.derived(PROJECT, 'test\0count', compute)).toBe(2);
    // Invalidated while computing: the value is returned to that caller but not kept.
    cache.invalidate(PROJECT);
    const racing = cache.derived(PROJECT, 'test\0count', async () => {
      cache.invalidate(PROJECT);
      return compute();
    });
    expect(await racing).toBe(3);
    expect(await cache.derived(PROJECT, 'test\0count', compute)).toBe(4);
  });

  it('keeps projects apart', async () => {
    const other = new FhirRepository(storage.resources, 't/other');
    const cache = policyCacheFor(storage.resources);
    const principal = await loadPrincipal(cache, storage.resources, { ...claims, project: 't/other' });
    expect(principal).toMatchObject({ active: false, policies: [] });
    await other.update('AccessPolicy', 'ap1', { ...policyResource('true') });
    expect((await loadPrincipal(cache, storage.resources, claims)).policies.map((p) => p.id)).toEqual(['ap2']);
  });
});
