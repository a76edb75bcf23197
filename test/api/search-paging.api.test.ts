import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { link, matchRefs, type ProjectClient, projectClient, type SearchBundle } from './search-fixtures';

let t: TestApp;
let project = 0;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

async function freshProject(): Promise<ProjectClient> {
  project += 1;
  return projectClient(t, 'paging', `p${project}`);
}

const family = (bundle: SearchBundle): string[] =>
  (bundle.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => (e.resource.name as Array<{ family: string }>)[0]?.family as string);

async function patients(c: ProjectClient, names: string[]): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const name of names) ids[name] = (await c.create({ resourceType: 'Patient', name: [{ family: name }] })).id;
  return ids;
}

async function rename(c: ProjectClient, id: string, name: string): Promise<void> {
  await c.put({ resourceType: 'Patient', id, name: [{ family: name }] });
}

async function walk(c: ProjectClient, first: SearchBundle, relation: 'next' | 'previous'): Promise<SearchBundle[]> {
  const pages = [first];
  for (let url = link(first, relation); url; ) {
    const page = await c.follow(url);
    pages.push(page);
    url = link(page, relation);
  }
  return pages;
}

describe('paging', () => {
  it('walks every page once with next links and back again with previous links', async () => {
    const c = await freshProject();
    await patients(c, ['e', 'a', 'g', 'c', 'b', 'f', 'd']);
    const forward = await walk(c, await c.search('/Patient?_sort=family&_count=3'), 'next');
    expect(forward.map(family)).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
    expect(forward.every((p) => p.total === 7)).toBe(true);
    expect(link(forward[0] as SearchBundle, 'previous')).toBeUndefined();
    expect(link(forward[2] as SearchBundle, 'next')).toBeUndefined();
    const backward = await walk(c, forward[2] as SearchBundle, 'previous');
    expect(backward.map(family)).toEqual([['g'], ['d', 'e', 'f'], ['a', 'b', 'c']]);
    // self reproduces the page; first goes back to the start.
    expect(family(await c.follow(link(forward[1] as SearchBundle, 'self') as string))).toEqual(['d', 'e', 'f']);
    expect(family(await c.follow(link(forward[2] as SearchBundle, 'first') as string))).toEqual(['a', 'b', 'c']);
  });

  it('keeps the default _id order stable while resources are created and deleted between pages', async () => {
    const c = await freshProject();
    await patients(c, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    const first = await c.search('/Patient?_count=2');
    const seen = matchRefs(first);
    // Many new resources: with offset paging, those sorting before the cursor would shift every later page.
    await patients(c, ['n1', 'n2', 'n3', 'n4']);
    let page = first;
    for (let url = link(page, 'next'); url; url = link(page, 'next')) {
      page = await c.follow(url);
      seen.push(...matchRefs(page));
    }
    expect(new Set(seen).size).toBe(seen.length);
    const all = matchRefs(await c.search('/Patient?_count=100'));
    const originals = all.filter((ref) => !seen.includes(ref));
    // Whatever was not seen was created after the first page and sorts before the cursor it met.
    expect(originals.length).toBeLessThanOrEqual(4);
    expect(seen.length + originals.length).toBe(10);
  });

  async function movingKeysScenario(c: ProjectClient, ids: Record<string, string>): Promise<void> {
    const page1 = await c.search('/Patient?_sort=family&_count=2');
    expect(family(page1)).toEqual(['b', 'd']);
    await c.create({ resourceType: 'Patient', name: [{ family: 'a' }] }); // new, sorts before the cursor
    await c.create({ resourceType: 'Patient', name: [{ family: 'k' }] }); // new, sorts after the cursor
    await rename(c, ids.h as string, 'a2'); // not yet shown; its new key sorts before the cursor
    await rename(c, ids.b as string, 'z'); // already shown; its new key sorts after the cursor
    await c.remove('Patient', ids.j as string); // not yet shown, deleted
    const pages = [page1, ...(await walk(c, await c.follow(link(page1, 'next') as string), 'next'))];
    expect(pages.map(family)).toEqual([['b', 'd'], ['f', 'a2'], ['k', 'l']]);
    const refs = pages.flatMap(matchRefs);
    expect(new Set(refs).size).toBe(refs.length);
    // Walking back from the last page gives the same pages (positions are fixed by the snapshot), and then 'a',
    // created after the first page with a position before it, which this direction now reaches.
    const back = await walk(c, pages[2] as SearchBundle, 'previous');
    expect(back.map(family)).toEqual([['k', 'l'], ['f', 'a2'], ['z', 'd'], ['a']]);
    // A new search sees the current order.
    expect(family(await c.search('/Patient?_sort=family&_count=10'))).toEqual(['a', 'a2', 'd', 'f', 'k', 'l', 'z']);
  }

  it('shows every resource exactly once when sort keys move across the cursor', async () => {
    const c = await freshProject();
    await movingKeysScenario(c, await patients(c, ['b', 'd', 'f', 'h', 'j', 'l']));
  });

  it('does not repeat or skip resources updated while paging by -_lastUpdated', async () => {
    const c = await freshProject();
    const ids = await patients(c, ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    const page1 = await c.search('/Patient?_sort=-_lastUpdated&_count=2');
    expect(family(page1)).toEqual(['r6', 'r5']);
    await rename(c, ids.r6 as string, 'r6-updated'); // shown; would move to the front again
    await rename(c, ids.r2 as string, 'r2-updated'); // not shown; moves before the cursor
    const rest = await walk(c, await c.follow(link(page1, 'next') as string), 'next');
    expect(rest.map(family)).toEqual([['r4', 'r3'], ['r2-updated', 'r1']]);
  });

  it('under concurrent writes, shows no resource twice and every untouched resource once', async () => {
    const c = await freshProject();
    const names = Array.from({ length: 30 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const ids = await patients(c, names);
    const stable = names.filter((_, i) => i % 3 === 0).map((n) => `Patient/${ids[n] as string}`);
    const churn = names.filter((_, i) => i % 3 !== 0);
    let writing = true;
    const writer = (async () => {
      for (let round = 0; writing; round++) {
        const name = churn[round % churn.length] as string;
        // Move resources to both ends of the order, delete some, create new ones on both sides.
        if (round % 5 === 4) await c.create({ resourceType: 'Patient', name: [{ family: round % 2 ? 'a-new' : 'z-new' }] });
        else if (round % 7 === 6) await c.remove('Patient', ids[name] as string).catch(() => undefined);
        else await rename(c, ids[name] as string, round % 2 ? `a${round}` : `z${round}`).catch(() => undefined);
      }
    })();
    const seen: string[] = [];
    let page = await c.search('/Patient?_sort=family&_count=4');
    seen.push(...matchRefs(page));
    for (let url = link(page, 'next'); url; url = link(page, 'next')) {
      page = await c.follow(url);
      seen.push(...matchRefs(page));
      await new Promise((resolve) => setImmediate(resolve));
    }
    writing = false;
    await writer;
    expect(new Set(seen).size).toBe(seen.length);
    for (const ref of stable) expect(seen.filter((s) => s === ref)).toHaveLength(1);
  });

  it('answers 400 for a forged or foreign cursor', async () => {
    const c = await freshProject();
    await patients(c, ['x1', 'x2', 'x3']);
    const page = await c.search('/Patient?_sort=family&_count=1');
    const next = new URL(link(page, 'next') as string);
    const cursor = next.searchParams.get('_cursor') as string;
    // The same cursor with another sort order has the wrong key length.
    const foreign = await c.get(`/Patient?_count=1&_cursor=${cursor}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_cursor'] });
    const forged = Buffer.from(JSON.stringify({ s: '2020-01-01T00:00:00.000Z', d: 'n', k: [{ $gt: '' }, 'x'] })).toString('base64url');
    expect((await c.get(`/Patient?_sort=family&_cursor=${forged}`)).status).toBe(400);
    expect((await c.get('/Patient?_cursor=not*base64')).status).toBe(400);
  });
});
