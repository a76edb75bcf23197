import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { createLogger } from '../../src/logger';
import { bootstrap, readSeedBundle } from '../../src/seed/bootstrap';
import { loadSeedBundle } from '../../src/seed/load-bundle';
import { verifyPassword, verifySecret } from '../../src/security/hashing';
import { openStorage } from '../../src/storage/open';
import { ProjectRegistry } from '../../src/tenancy/projects';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-boot-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function open() {
  const storage = await openStorage({ dataDir, logger: createLogger('silent') });
  return { storage, projects: new ProjectRegistry(storage.records) };
}

describe('bootstrap', () => {
  it('creates the project, owner, admin client and policy once, generating credentials only the first time', async () => {
    const config = loadConfig({ DATA_DIR: dataDir, ADMIN_EMAIL: 'Owner@Example.com' });
    let { storage, projects } = await open();
    const first = await bootstrap(config, storage, projects);
    expect(first.projectCreated).toBe(true);
    // Every entry of seed/bootstrap.json: owner, membership, admin client, policy and the public clients.
    const entries = (await readSeedBundle('bootstrap')).entry?.length;
    expect(entries).toBeGreaterThanOrEqual(5);
    expect(first.summary).toEqual({ created: entries, updated: 0, unchanged: 0 });
    expect(first.generatedPassword).toMatch(/^[\w-]{43}$/);
    expect(first.generatedClientSecret).toMatch(/^[\w-]{43}$/);
    const repo = new FhirRepository(storage.resources, first.project.key);
    const user = await repo.readCurrent('User', 'owner');
    expect(user?.resource).toMatchObject({ email: 'owner@example.com', role: 'owner' });
    expect(await verifyPassword(first.generatedPassword as string, user?.resource?.password as string)).toBe(true);
    const client = await repo.readCurrent('ClientApplication', 'admin-cli');
    expect(client?.resource).toMatchObject({ grantType: ['client_credentials'], scope: 'system/*.*' });
    expect(verifySecret(first.generatedClientSecret as string, client?.resource?.secret as string)).toBe(true);
    // The admin web app's public client, redirecting to PUBLIC_URL/admin/callback.
    const adminApp = await repo.readCurrent('ClientApplication', 'admin-app');
    expect(adminApp?.resource).toMatchObject({
      tokenEndpointAuthMethod: 'none',
      grantType: ['authorization_code', 'refresh_token'],
      redirectUri: [`${config.publicUrl}/admin/callback`],
    });
    expect(adminApp?.resource?.secret).toBeUndefined();
    const policy = await repo.readCurrent('AccessPolicy', 'admin-full-access');
    expect(policy?.resource).toMatchObject({
      engine: 'full-access',
      target: [{ link: { reference: 'Membership/owner' } }, { link: { reference: 'ClientApplication/admin-cli' } }],
    });
    await storage.close();

    ({ storage, projects } = await open());
    const second = await bootstrap(config, storage, projects);
    expect(second.projectCreated).toBe(false);
    expect(second.generatedPassword).toBeUndefined();
    expect(second.generatedClientSecret).toBeUndefined();
    expect(second.summary).toEqual({ created: 0, updated: 0, unchanged: entries });
    const stillUser = await new FhirRepository(storage.resources, second.project.key).readCurrent('User', 'owner');
    expect(await verifyPassword(first.generatedPassword as string, stillUser?.resource?.password as string)).toBe(true);

    // Setting ADMIN_PASSWORD later replaces the stored hash.
    const third = await bootstrap(loadConfig({ DATA_DIR: dataDir, ADMIN_EMAIL: 'owner@example.com', ADMIN_PASSWORD: 'replaced password' }), storage, projects);
    expect(third.summary.updated).toBe(1);
    const replaced = await new FhirRepository(storage.resources, third.project.key).readCurrent('User', 'owner');
    expect(await verifyPassword('replaced password', replaced?.resource?.password as string)).toBe(true);
    await storage.close();
  });

  it('loads the demo bundle idempotently', async () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    const { storage, projects } = await open();
    const boot = await bootstrap(config, storage, projects);
    const repo = new FhirRepository(storage.resources, boot.project.key);
    const demo = await readSeedBundle('demo');
    const seen: string[] = [];
    const first = await loadSeedBundle(repo, demo, (ref, action) => seen.push(`${ref} ${action}`));
    expect(first.created).toBe(demo.entry?.length);
    expect(seen).toContain('Patient/patient-ada created');
    const second = await loadSeedBundle(repo, demo);
    expect(second).toEqual({ created: 0, updated: 0, unchanged: demo.entry?.length });
    const patients = demo.entry?.filter((e) => e.resource?.resourceType === 'Patient') ?? [];
    expect(patients.length).toBeGreaterThanOrEqual(2);
    const categories = demo.entry
      ?.filter((e) => e.resource?.resourceType === 'Observation')
      .map((e) => `${(e.resource?.subject as { reference: string }).reference} ${JSON.stringify(e.resource?.category)}`);
    for (const p of patients) {
      expect(categories?.some((c) => c.startsWith(`Patient/${p.resource?.id}`) && c.includes('laboratory'))).toBe(true);
      expect(categories?.some((c) => c.startsWith(`Patient/${p.resource?.id}`) && c.includes('vital-signs'))).toBe(true);
    }
    await storage.close();
  });
});
