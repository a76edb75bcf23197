/**
 * The links of a searchset Bundle name the parameters the search applied: criteria reported as ignored in the
 * outcome entry are left out, `_sort` keeps the keys it sorted by, and applied result controls stay, so that a
 * client reads from `self` what was used and `next`/`previous` run the same search.
 */
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { FHIR_JSON, link, matchRefs, outcomeIssues, type ProjectClient, projectClient, type SearchBundle } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await buildTestApp();
  c = await projectClient(t, 'links', 'p1');
  for (const family of ['Smith', 'Smithers', 'Jones']) {
    ids[family] = (await c.create({ resourceType: 'Patient', name: [{ family }], gender: family === 'Jones' ? 'male' : 'female' })).id;
  }
  ids.obs = (await c.create({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${ids.Smith}` } })).id;
});
afterAll(async () => {
  await t.close();
});

/** A link's path and its parameters without the opaque `_cursor`. */
function parts(bundle: SearchBundle, relation: string): { path: string; params: Array<[string, string]> } | undefined {
  const url = link(bundle, relation);
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  expect(parsed.searchParams.getAll('_cursor')).toHaveLength(1);
  return { path: `${parsed.origin}${parsed.pathname}`, params: [...parsed.searchParams.entries()].filter(([name]) => name !== '_cursor') };
}

const ignored = (name: string, diagnostics = `Unknown search parameter '${name}'; the parameter was ignored`) => ({
  severity: 'warning',
  code: 'not-supported',
  diagnostics,
  expression: [name],
});

describe('self, first, next and previous name only what was applied', () => {
  it('drops an unknown parameter from every link and keeps the criteria and controls that were used', async () => {
    const first = await c.search('/Patient?foo=bar&name=smith&_count=1&bogus:exact=1&_total=accurate');
    expect(outcomeIssues(first)).toEqual([ignored('foo'), ignored('bogus:exact')]);
    const applied = { path: `${t.config.publicUrl}${c.base}/Patient`, params: [['name', 'smith'], ['_count', '1'], ['_total', 'accurate']] };
    for (const relation of ['self', 'first', 'next']) expect({ relation, ...parts(first, relation) }).toEqual({ relation, ...applied });
    expect(first.total).toBe(2);

    // The next page runs the same search: the other Smith, no outcome entry, the same applied parameters.
    const second = await c.follow(link(first, 'next') as string);
    expect([matchRefs(first).length, matchRefs(second).length]).toEqual([1, 1]);
    expect([...matchRefs(first), ...matchRefs(second)].sort()).toEqual([`Patient/${ids.Smith}`, `Patient/${ids.Smithers}`].sort());
    expect(outcomeIssues(second)).toEqual([]);
    for (const relation of ['self', 'previous']) expect({ relation, ...parts(second, relation) }).toEqual({ relation, ...applied });
    expect(link(second, 'next')).toBeUndefined();
  });

  it('drops unknown chained and reverse-chained parameters under their full names', async () => {
    const chained = await c.search(`/Observation?subject:Patient.nope=1&subject=Patient/${ids.Smith}`);
    expect(outcomeIssues(chained)).toEqual([ignored('subject:Patient.nope')]);
    expect(matchRefs(chained)).toEqual([`Observation/${ids.obs}`]);
    expect(parts(chained, 'self')?.params).toEqual([['subject', `Patient/${ids.Smith}`]]);

    const reverse = await c.search('/Patient?_has:Observation:subject:nope=1&gender=male');
    expect(outcomeIssues(reverse)).toHaveLength(1);
    expect(outcomeIssues(reverse)[0]?.expression).toEqual(['_has:Observation:subject:nope']);
    expect(matchRefs(reverse)).toEqual([`Patient/${ids.Jones}`]);
    expect(parts(reverse, 'self')?.params).toEqual([['gender', 'male']]);
  });

  it('keeps only the _sort keys it sorted by, and drops _sort when none was usable', async () => {
    const some = await c.search('/Patient?_sort=$where,-family&_count=2');
    expect(outcomeIssues(some)).toEqual([
      { severity: 'warning', code: 'not-supported', diagnostics: "Cannot sort by '$where'; the sort key was ignored", expression: ['_sort'] },
    ]);
    expect(matchRefs(some)).toEqual([`Patient/${ids.Smithers}`, `Patient/${ids.Smith}`]);
    expect(parts(some, 'self')?.params).toEqual([['_sort', '-family'], ['_count', '2']]);
    expect(parts(some, 'next')?.params).toEqual([['_sort', '-family'], ['_count', '2']]);
    expect(matchRefs(await c.follow(link(some, 'next') as string))).toEqual([`Patient/${ids.Jones}`]);

    const none = await c.search('/Patient?_sort=$where&gender=female');
    expect(outcomeIssues(none)).toHaveLength(1);
    expect(parts(none, 'self')?.params).toEqual([['gender', 'female']]);
  });

  it('keeps every applied result control', async () => {
    const query = `_id=${ids.obs}&_include=Observation:subject&_elements=status&_summary=false&_total=none&_count=5&_format=json`;
    const bundle = await c.search(`/Observation?${query}`);
    expect(outcomeIssues(bundle)).toEqual([]);
    expect(parts(bundle, 'self')?.params).toEqual([...new URLSearchParams(query).entries()]);
  });

  it('drops unknown parameters of a POST _search form body and of a system search', async () => {
    const posted = await t.api.post(`${c.base}/Patient/_search?gender=female`).type('form').send({ whatever: 'x', name: 'smithers' });
    expect(posted.status).toBe(200);
    expect(outcomeIssues(posted.body as SearchBundle)).toEqual([ignored('whatever')]);
    expect(parts(posted.body as SearchBundle, 'self')).toEqual({ path: `${t.config.publicUrl}${c.base}/Patient`, params: [['gender', 'female'], ['name', 'smithers']] });

    const system = await c.search('?_type=Patient&zzz=1&name=jones');
    expect(outcomeIssues(system)).toEqual([ignored('zzz')]);
    expect(parts(system, 'self')).toEqual({ path: `${t.config.publicUrl}${c.base}`, params: [['_type', 'Patient'], ['name', 'jones']] });
  });

  it('still refuses unknown parameters under Prefer: handling=strict', async () => {
    const res = await c.get('/Patient?foo=bar', { Prefer: 'handling=strict', Accept: FHIR_JSON });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['foo']);
  });
});
