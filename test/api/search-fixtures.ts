/** Shared helpers of the search API tests: a project per test file, resource creation, Bundle reading. */
import request from 'supertest';
import type { TestApp } from '../helpers/build-test-app';

export const FHIR_JSON = 'application/fhir+json';

/** A Bundle entry as the tests read it. */
export interface Entry {
  fullUrl: string;
  resource: Record<string, unknown> & { resourceType: string; id: string };
  search: { mode: string };
}

/** A searchset Bundle as the tests read it. */
export interface SearchBundle {
  resourceType: string;
  type: string;
  total?: number;
  link: Array<{ relation: string; url: string }>;
  entry?: Entry[];
}

/** A client for one project. */
export class ProjectClient {
  constructor(
    readonly t: TestApp,
    readonly base: string,
  ) {}

  /** Creates a resource (POST) and returns it. */
  async create(resource: Record<string, unknown>): Promise<Record<string, unknown> & { id: string }> {
    const res = await this.t.api.post(`${this.base}/${String(resource.resourceType)}`).set('Content-Type', FHIR_JSON).send(resource);
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Record<string, unknown> & { id: string };
  }

  /** Creates or replaces a resource with a known id (PUT). */
  async put(resource: Record<string, unknown> & { id: string }): Promise<Record<string, unknown>> {
    const res = await this.t.api.put(`${this.base}/${String(resource.resourceType)}/${resource.id}`).set('Content-Type', FHIR_JSON).send(resource);
    if (res.status !== 200 && res.status !== 201) throw new Error(`put failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Record<string, unknown>;
  }

  /** Deletes a resource. */
  async remove(type: string, id: string): Promise<void> {
    const res = await this.t.api.delete(`${this.base}/${type}/${id}`);
    if (res.status !== 204) throw new Error(`delete failed: ${res.status}`);
  }

  /** GET relative to the project's FHIR base (`/Patient?name=x`). */
  get(pathAndQuery: string, headers: Record<string, string> = {}): request.Test {
    const req = this.t.api.get(`${this.base}${pathAndQuery}`);
    for (const [k, v] of Object.entries(headers)) req.set(k, v);
    return req;
  }

  /** Searches and expects a searchset. */
  async search(pathAndQuery: string, headers: Record<string, string> = {}): Promise<SearchBundle> {
    const res = await this.get(pathAndQuery, headers);
    if (res.status !== 200) throw new Error(`search ${pathAndQuery} failed: ${res.status} ${JSON.stringify(res.body)}`);
    expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    return res.body as SearchBundle;
  }

  /** Follows an absolute link URL of a Bundle. */
  async follow(url: string): Promise<SearchBundle> {
    const { pathname, search } = new URL(url);
    const res = await this.t.api.get(`${pathname}${search}`);
    if (res.status !== 200) throw new Error(`follow ${url} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as SearchBundle;
  }
}

/**
 * A client for a fresh project of the test app.
 * @param t - the test app
 * @param tenant - tenant slug
 * @param project - project slug
 * @returns the client
 */
export async function projectClient(t: TestApp, tenant: string, project: string): Promise<ProjectClient> {
  await t.authorize(tenant, project);
  return new ProjectClient(t, `/w/${tenant}/${project}/api/v1/fhir/r4`);
}

/** `Type/id` of each match entry, in order. */
export function matchRefs(bundle: SearchBundle): string[] {
  return (bundle.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => `${e.resource.resourceType}/${e.resource.id}`);
}

/** `Type/id` of each include entry, sorted. */
export function includeRefs(bundle: SearchBundle): string[] {
  return (bundle.entry ?? [])
    .filter((e) => e.search.mode === 'include')
    .map((e) => `${e.resource.resourceType}/${e.resource.id}`)
    .sort();
}

/** The outcome entry's issues, if any. */
export function outcomeIssues(bundle: SearchBundle): Array<Record<string, unknown>> {
  const outcome = (bundle.entry ?? []).find((e) => e.search.mode === 'outcome');
  return (outcome?.resource.issue as Array<Record<string, unknown>> | undefined) ?? [];
}

/** A link of a Bundle by relation. */
export function link(bundle: SearchBundle, relation: string): string | undefined {
  return bundle.link.find((l) => l.relation === relation)?.url;
}
