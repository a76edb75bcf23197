import { AccessControlledRepository } from '../../../src/fhir/access/access-controlled-repository';
import { RequestBudget } from '../../../src/fhir/budget';
import { FhirRepository } from '../../../src/fhir/repository/repository';
import type { FhirContext } from '../../../src/fhir/rest/fhir-request';
import { matchResources } from '../../../src/fhir/search/match';
import type { PolicyPrincipal } from '../../../src/policy/types';
import { buildTestApp, type TestApp } from '../../helpers/build-test-app';

let t: TestApp;
let ctx: FhirContext;
let other: FhirContext;
/** The unjudged repositories of the two projects, for setting the data up. */
const stores = new Map<FhirContext, FhirRepository>();

/** An owner of the project: the matcher's own semantics are tested here, not access control. */
function owner(project: string): PolicyPrincipal {
  return { project, kind: 'user', reference: 'Membership/owner', active: true, role: 'owner', scopes: [], policies: [] };
}

async function contextFor(tenant: string, name: string): Promise<FhirContext> {
  const { project } = await t.projects.ensure(tenant, name);
  const inner = new FhirRepository(t.storage.resources, project.key);
  const budget = new RequestBudget(t.config.maxResponseBytes, t.config.requestTimeoutMs);
  const context = { project, baseUrl: `${t.config.publicUrl}/w/${tenant}/${name}/api/v1/fhir/r4`, config: t.config, budget };
  const repo = new AccessControlledRepository(inner, owner(project.key)).forRequest({ interaction: 'search-type', resourceType: 'Patient', parameters: [] }, context);
  const ctx = { ...context, repo };
  stores.set(ctx, inner);
  return ctx;
}

function setup(of: FhirContext): FhirRepository {
  const inner = stores.get(of);
  if (!inner) throw new Error('unknown context');
  return inner;
}

beforeAll(async () => {
  t = await buildTestApp();
  ctx = await contextFor('match', 'one');
  other = await contextFor('match', 'two');
  for (const value of ['M-1', 'M-2', 'M-3']) {
    await setup(ctx).create({ resourceType: 'Patient', identifier: [{ system: 'urn:m', value }], gender: 'female' });
  }
  await setup(other).create({ resourceType: 'Patient', identifier: [{ system: 'urn:m', value: 'M-1' }] });
  await setup(ctx).create({ resourceType: 'ClientApplication', name: 'Matched', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret: 'shhh-this-is-secret' });
  const deleted = await setup(ctx).create({ resourceType: 'Patient', identifier: [{ system: 'urn:m', value: 'M-9' }] });
  await setup(ctx).delete('Patient', deleted.resource.id as string);
});
afterAll(async () => {
  await t.close();
});

describe('matchResources', () => {
  it('returns the live matches of the project only', async () => {
    const one = await matchResources(ctx, 'Patient', [['identifier', 'urn:m|M-1']]);
    expect(one.map((d) => [d.project, d.type, d.deleted])).toEqual([['match/one', 'Patient', false]]);
    expect(await matchResources(ctx, 'Patient', [['identifier', 'urn:m|M-9']])).toEqual([]);
    expect(await matchResources(ctx, 'Patient', [['gender', 'female']])).toHaveLength(3);
    expect(await matchResources(ctx, 'Patient', [['gender', 'female'], ['identifier', 'M-2,M-3']])).toHaveLength(2);
  });

  it('honours the limit and ignores result controls', async () => {
    expect(await matchResources(ctx, 'Patient', [['gender', 'female'], ['_count', '1']], { limit: 2 })).toHaveLength(2);
  });

  it('returns the public view of resources', async () => {
    const [client] = await matchResources(ctx, 'ClientApplication', [['name', 'Matched']]);
    expect(client?.resource).toMatchObject({ name: 'Matched' });
    expect(client?.resource?.secret).toBeUndefined();
  });

  it('refuses unknown parameters, invalid values and empty criteria with 400', async () => {
    await expect(matchResources(ctx, 'Patient', [['nope', 'x']])).rejects.toMatchObject({ status: 400, issues: [{ expression: ['nope'] }] });
    await expect(matchResources(ctx, 'Patient', [['birthdate', 'soon']])).rejects.toMatchObject({ status: 400 });
    await expect(matchResources(ctx, 'Patient', [])).rejects.toMatchObject({ status: 400 });
    await expect(matchResources(ctx, 'Patient', [['_sort', 'name']])).rejects.toMatchObject({ status: 400 });
  });
});
