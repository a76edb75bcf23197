/**
 * Enumerates the queries the server sends to the resources collection: one search per R4 search parameter per
 * modifier or prefix for every resource type, chains, `_has`, includes, compartments, SMART scope filters, system
 * search and every paging sort, each run through the real search code (executeSearch, the access-controlled
 * repository, paging) over a store that records what it is asked and holds nothing.
 */
import type { SearchParameter } from 'fhir/r4';
import { AccessControlledRepository } from '../../../src/fhir/access/access-controlled-repository';
import { ScopeGate } from '../../../src/fhir/access/scope-gate';
import { RequestBudget } from '../../../src/fhir/budget';
import { getPatientCompartmentParams, getSearchParameters, isResourceType, RESOURCE_TYPES } from '../../../src/fhir/definitions';
import { FhirError } from '../../../src/fhir/errors';
import { FhirRepository } from '../../../src/fhir/repository/repository';
import type { FhirContext } from '../../../src/fhir/rest/fhir-request';
import { encodeCursor } from '../../../src/fhir/search/cursor';
import { executeSearch, resolveSort, type SearchScope } from '../../../src/fhir/search/execute';
import { resolveIncludes } from '../../../src/fhir/search/include';
import { parseSearchRequest } from '../../../src/fhir/search/parse-request';
import { loadConfig } from '../../../src/config/load';
import type { PolicyPrincipal } from '../../../src/policy/types';
import type { Filter, FindOptions, HistoryQuery, ResourceDocument, ResourceStore, ResourceWrite, Sort } from '../../../src/storage/ports';

/** One query the store received, with the search that caused it. */
export interface RecordedQuery {
  origin: string;
  filter: Filter;
  sort: Sort;
}

/** A ResourceStore that stores nothing and records every search and count. */
class RecordingStore implements ResourceStore {
  readonly queries: RecordedQuery[] = [];
  origin = '';

  async readCurrent(): Promise<ResourceDocument | undefined> {
    return undefined;
  }
  async readVersion(): Promise<ResourceDocument | undefined> {
    return undefined;
  }
  async write(_writes: ResourceWrite[]): Promise<void> {
    throw new Error('the recording store takes no writes');
  }
  async expunge(): Promise<void> {
    throw new Error('the recording store takes no writes');
  }
  async history(_query: HistoryQuery): Promise<ResourceDocument[]> {
    return [];
  }
  async countHistory(): Promise<number> {
    return 0;
  }
  async search(filter: Filter, options: FindOptions = {}): Promise<ResourceDocument[]> {
    this.queries.push({ origin: this.origin, filter, sort: options.sort ?? [] });
    return [];
  }
  async count(filter: Filter): Promise<number> {
    this.queries.push({ origin: this.origin, filter, sort: [] });
    return 0;
  }
}

const PROJECT = { tenant: 'shapes', name: 'p', key: 'shapes/p', createdAt: '2026-01-01T00:00:00.000Z' };
const OWNER: PolicyPrincipal = { project: PROJECT.key, kind: 'user', reference: 'Membership/owner', active: true, role: 'owner', scopes: [], policies: [] };
const SCOPED_CLIENT: PolicyPrincipal = {
  project: PROJECT.key,
  kind: 'client',
  reference: 'ClientApplication/app',
  active: true,
  scopes: [],
  policies: [{ id: 'all', engine: 'full-access', targets: [], rules: [], attributes: [] }],
};
const SCOPES = ['patient/*.rs', 'patient/Observation.rs?category=laboratory', 'user/Practitioner.rs?identifier=urn:npi|'];

/** Sample values per parameter type: `[modifier, value]`. */
const SAMPLES: Record<string, Array<[string, string]>> = {
  string: [['', 'ab'], ['exact', 'Ab'], ['contains', 'ab'], ['', 'ab,cd']],
  token: [['', 'c'], ['', 's|c'], ['', '|c'], ['', 's|'], ['not', 'c'], ['not', 'c,d'], ['text', 'x'], ['', 's|c,d']],
  date: ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'].map((p): [string, string] => ['', `${p}2020-01-01`]).concat([['', '2020-01-01T10:00:00Z,2021']]),
  number: ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'].map((p): [string, string] => ['', `${p}5.0`]),
  quantity: [['', '5'], ['', 'gt5|http://unitsofmeasure.org|mg'], ['', '5||mg'], ['', 'ne5'], ['', 'ap5,le7']],
  uri: [['', 'http://x.org/a/b'], ['below', 'http://x.org/a'], ['above', 'http://x.org/a/b/c']],
};

function componentSample(type: string, definition: string): string {
  const param = getSearchParameters(type).find((p) => p.url === definition);
  switch (param?.type) {
    case 'token':
      return 's|c';
    case 'quantity':
      return 'gt5|http://unitsofmeasure.org|mg';
    case 'date':
      return 'ge2020';
    case 'reference':
      return 'Patient/1';
    case 'uri':
      return 'http://x.org/a';
    case 'number':
      return '5';
    default:
      return 'ab';
  }
}

function targetsOf(param: SearchParameter): string[] {
  return ((param.target ?? []) as string[]).filter((t) => isResourceType(t));
}

/**
 * The criteria to try for one parameter: every modifier and prefix of its type, `:missing`, and for references the
 * id, `Type/id`, absolute forms, type modifiers and a chain.
 * @param type - the resource type
 * @param param - the parameter
 * @param baseUrl - the project's FHIR base
 * @returns name/value pairs
 */
export function criteriaFor(type: string, param: SearchParameter, baseUrl: string): Array<[string, string]> {
  const code = param.code;
  if (code === '_id') return [['_id', 'a'], ['_id', 'a,b']];
  if (code === '_lastUpdated') return ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'].map((p) => ['_lastUpdated', `${p}2020-01-01`]);
  const out: Array<[string, string]> = [[`${code}:missing`, 'true'], [`${code}:missing`, 'false']];
  if (param.type === 'reference') {
    const targets = targetsOf(param);
    const target = targets[0] ?? 'Patient';
    out.push([code, '123'], [code, `${target}/123`], [code, `${baseUrl}/${target}/1`], [code, 'http://elsewhere.example/fhir/Patient/1'], [code, `${target}/1,${target}/2`]);
    for (const t of targets.slice(0, 3)) out.push([`${code}:${t}`, '123'], [`${code}:${t}._id`, 'x']);
    return out;
  }
  if (param.type === 'composite') {
    const value = (param.component ?? []).map((c) => componentSample(type, c.definition)).join('$');
    return [...out, [code, value]];
  }
  for (const [modifier, value] of SAMPLES[param.type] ?? []) out.push([modifier ? `${code}:${modifier}` : code, value]);
  return out;
}

/** What the enumeration produced. */
export interface Enumeration {
  queries: RecordedQuery[];
  /** Searches that were refused (400) with the reason, e.g. a modifier the parameter type does not take. */
  refused: string[];
  /** How many searches ran. */
  searches: number;
}

class Enumerator {
  readonly store = new RecordingStore();
  readonly refused: string[] = [];
  searches = 0;
  private readonly config = loadConfig({ NODE_ENV: 'test' });
  readonly baseUrl = `${this.config.publicUrl}/w/shapes/p/api/v1/fhir/r4`;

  context(principal: PolicyPrincipal = OWNER, scopes?: ScopeGate): FhirContext {
    const inner = new FhirRepository(this.store, PROJECT.key);
    const base = { project: PROJECT, baseUrl: this.baseUrl, config: this.config, budget: new RequestBudget(this.config.maxResponseBytes, 60_000) };
    const repo = new AccessControlledRepository(inner, principal, { scopes }).forRequest({ interaction: 'search-type', resourceType: 'Patient', parameters: [] }, base);
    return { ...base, repo };
  }

  async search(origin: string, scope: SearchScope, query: Array<[string, string]>, ctx = this.context()): Promise<void> {
    this.store.origin = origin;
    this.searches++;
    try {
      await executeSearch(ctx, scope, query, { strict: true });
    } catch (err) {
      if (!(err instanceof FhirError) || err.status !== 400) throw err;
      this.refused.push(`${origin}: ${err.message}`);
    }
  }

  /** The sorts the server can page by on a type, each with a second-page cursor. */
  sortsOf(type: string): Array<[string, string]> {
    const keys = ['_id', '-_id', '_lastUpdated', '-_lastUpdated'];
    for (const p of getSearchParameters(type)) if (p.expression && p.type !== 'composite' && !p.code.startsWith('_')) keys.push(p.code, `-${p.code}`);
    return keys.map((k) => ['_sort', k]);
  }

  cursorFor(type: string, sortValue: string | undefined): string {
    const keys = sortValue ? parseSearchRequest([['_sort', sortValue]], this.config).controls.sort : [];
    const sort = resolveSort([type], keys, true, []);
    return encodeCursor({ snapshot: '2026-01-01T00:00:00.000Z', direction: 'next', key: sort.map(() => 'k') });
  }
}

async function enumerateType(e: Enumerator, type: string): Promise<void> {
  const scope: SearchScope = { types: [type] };
  for (const param of getSearchParameters(type)) {
    if (!param.expression && param.code !== '_id' && param.code !== '_lastUpdated') continue;
    for (const criterion of criteriaFor(type, param, e.baseUrl)) await e.search(`${type}?${criterion.join('=')}`, scope, [criterion]);
    if (param.type === 'reference') {
      // Reverse chain from this parameter to each of its targets.
      for (const target of targetsOf(param).slice(0, 3)) await e.search(`${target}?_has:${type}:${param.code}:_id=x`, { types: [target] }, [[`_has:${type}:${param.code}:_id`, 'x']]);
    }
  }
  for (const sort of [undefined, ...e.sortsOf(type).map(([, v]) => v)]) {
    const controls: Array<[string, string]> = sort ? [['_sort', sort]] : [];
    await e.search(`${type}?${sort ? `_sort=${sort}` : ''}`, scope, controls);
    await e.search(`${type}?${sort ? `_sort=${sort}&` : ''}_cursor`, scope, [...controls, ['_cursor', e.cursorFor(type, sort)]]);
  }
  if (getPatientCompartmentParams(type).length > 0) await e.search(`Patient/p1/${type}`, { types: [type], compartmentPatient: 'p1' }, []);
  await e.search(`${type}? (patient scopes)`, scope, [], e.context(SCOPED_CLIENT, new ScopeGate(SCOPES, 'p1', e.baseUrl)));
}

async function enumerateIncludes(e: Enumerator, type: string): Promise<void> {
  const ctx = e.context();
  for (const param of getSearchParameters(type)) {
    if (param.type !== 'reference' || !param.expression) continue;
    const target = targetsOf(param)[0] ?? 'Patient';
    const match: ResourceDocument = {
      _id: `${PROJECT.key}/${type}/m`,
      project: PROJECT.key,
      type,
      id: 'm',
      versionId: 1,
      lastUpdated: '2026-01-01T00:00:00.000Z',
      deleted: false,
      method: 'create',
      index: { [param.code]: [{ r: `${target}/1`, t: target, i: '1' }] },
    };
    const targetDoc: ResourceDocument = { ...match, _id: `${PROJECT.key}/${target}/1`, type: target, id: '1', index: {} };
    const { controls } = parseSearchRequest([['_include', `${type}:${param.code}`], ['_revinclude', `${type}:${param.code}`]], ctx.config);
    e.store.origin = `${type}?_include=${type}:${param.code}`;
    await resolveIncludes(ctx, [match], controls.include, []);
    e.store.origin = `${target}?_revinclude=${type}:${param.code}`;
    await resolveIncludes(ctx, [targetDoc], [], controls.revinclude);
  }
}

/**
 * Runs every search and returns what the store was asked.
 * @param types - the resource types (default: all)
 * @returns the recorded queries and the refused searches
 */
export async function enumerateQueries(types: readonly string[] = [...RESOURCE_TYPES]): Promise<Enumeration> {
  const e = new Enumerator();
  for (const type of types) {
    await enumerateType(e, type);
    await enumerateIncludes(e, type);
  }
  const system: SearchScope = { types: [...RESOURCE_TYPES], system: true };
  await e.search('?_lastUpdated=gt2020', system, [['_lastUpdated', 'gt2020']]);
  await e.search('?_type=Patient,Observation&identifier=s|c', system, [['_type', 'Patient,Observation'], ['identifier', 's|c']]);
  await e.search('?_type=Patient,Observation&_sort=-_lastUpdated', system, [['_type', 'Patient,Observation'], ['_sort', '-_lastUpdated']]);
  await e.search('?_type=Patient,Practitioner&name=ab', system, [['_type', 'Patient,Practitioner'], ['name', 'ab']]);
  await e.search('Patient/p1/*', { types: [...RESOURCE_TYPES].filter((t) => getPatientCompartmentParams(t).length > 0), compartmentPatient: 'p1' }, []);
  return { queries: e.store.queries, refused: e.refused, searches: e.searches };
}
