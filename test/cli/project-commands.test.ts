/**
 * `fhir-smart project create|list|use` against the real server. These commands call the `Project` API of the system
 * project (FHIR create/search of `Project` at /w/default/default/api/v1/fhir/r4/Project): creating a project creates
 * its signing key, its owner, the public clients of seed/bootstrap.json (fhir-smart-cli among them) and loads the
 * named seed bundle. The owner then logs in to the new project with the CLI (the form driver posts the sign-in and
 * consent pages) and reads the seeded data.
 */
import { OWNER } from '../oauth/authorize-helpers';
import { cliUser, formLogin, jsonLines, succeeded, adminSession } from './cli-helpers';

const session = adminSession();

it('switches the profile to another project, keeping one session per project', async () => {
  // `use` switches the profile's project; the client_credentials session belongs to default/default.
  const used = succeeded(await session.admin.run(['project', 'use', 'acme/clinic']));
  expect(used.stderr).toMatch(/now uses acme\/clinic: not logged in there yet, run fhir-smart login/);
  expect(session.admin.profiles().profiles.default).toMatchObject({ tenant: 'acme', project: 'clinic' });
  const notThere = await session.admin.run(['whoami']);
  expect(notThere.code).toBe(2);
  expect(notThere.stderr).toMatch(/not logged in to .* acme\/clinic/);
  succeeded(await session.admin.run(['project', 'use', 'default/default']));
  expect(succeeded(await session.admin.run(['whoami'])).stdout).toMatch(/as admin-cli/);
  const missing = await session.admin.run(['project', 'use', 'nope']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/expected <tenant>\/<project>/);
}, 180_000);

it('creates a project with a seed and an owner, and lists it', async () => {
  const created = succeeded(await session.admin.run(['project', 'create', 'acme/clinic', '--title', 'Acme Clinic', '--seed', 'demo', '--owner', 'User/owner']));
  expect(JSON.parse(created.stdout)).toMatchObject({ resourceType: 'Project', tenant: 'acme', name: 'clinic', title: 'Acme Clinic', status: 'active' });
  expect(created.stderr).toContain(`Created project acme/clinic: ${session.server.base}/w/acme/clinic/api/v1/fhir/r4`);

  const listed = jsonLines(succeeded(await session.admin.run(['project', 'list'])).stdout);
  expect(listed.map((p) => `${String(p.tenant)}/${String(p.name)}`)).toEqual(expect.arrayContaining(['acme/clinic']));
  const byTenant = jsonLines(succeeded(await session.admin.run(['project', 'list', 'acme'])).stdout);
  expect(byTenant.map((p) => p.name)).toEqual(['clinic']);

  const again = await session.admin.run(['project', 'create', 'acme/clinic']);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/^fhir-smart: HTTP 4\d\d: /);
  const bad = await session.admin.run(['project', 'create', 'Acme/Clinic']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/tenant must be a slug/);
  expect((await session.admin.run(['project', 'create', 'acme'])).code).toBe(2);

}, 180_000);

it('lets the owner log in to the new project with the CLI client and read its seeded data', async () => {
  const owner = cliUser({ FHIR_SMART_SERVER: session.server.base });
  try {
    const run = owner.start(['login', '--no-browser', '--tenant', 'acme', '--project', 'clinic']);
    succeeded(await formLogin(session.server, run, OWNER));
    expect(owner.profiles().profiles.default).toMatchObject({ tenant: 'acme', project: 'clinic' });
    const read = succeeded(await owner.run(['api', 'read', 'r4', 'Patient', 'patient-ada']));
    expect(JSON.parse(read.stdout)).toMatchObject({ id: 'patient-ada' });
    const who = JSON.parse(succeeded(await owner.run(['whoami', '--json'])).stdout) as Record<string, unknown>;
    expect(who).toMatchObject({ tenant: 'acme', project: 'clinic', client: 'fhir-smart-cli' });
  } finally {
    owner.remove();
  }
}, 180_000);
