/**
 * Request bodies are refused past 64 levels of nesting (src/http/body.ts), so that no stored resource is deep enough
 * for recursive code (structuredClone, JSON.stringify, validation, indexing) to exhaust the stack. A JSON Patch
 * builds deeper resources from shallow bodies (each `move` wraps the resource's chain in one more level), and once
 * deep enough the next PATCH answers 500 (RangeError: Maximum call stack size exceeded in applyJsonPatch's
 * structuredClone). The result of a patch must be held to the same depth as a body: 4xx, never 5xx.
 */
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

/** 250 levels of nesting per patch, with 1,000 short operations (a body a few tens of KB, 5 levels deep). */
const deepen: unknown[] = [];
for (let i = 0; i < 250; i++) {
  deepen.push(
    { op: 'add', path: '/modifierExtension', value: [{ url: 'http://example.test/wrap', extension: [] }] },
    { op: 'move', from: '/extension/0', path: '/modifierExtension/0/extension/-' },
    { op: 'move', from: '/modifierExtension/0', path: '/extension/-' },
    { op: 'remove', path: '/modifierExtension' },
  );
}

function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    max = Math.max(max, depth + 1);
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return max;
}

it('a patch whose result is nested deeper than a body may be is refused with a 4xx, and repeated patches never answer 5xx', async () => {
  await t.api
    .put(`${t.base}/Basic/deep`)
    .set('Content-Type', 'application/fhir+json')
    .send({ resourceType: 'Basic', id: 'deep', code: { text: 'deep' }, extension: [{ url: 'http://example.test/leaf', valueString: 'leaf' }] })
    .expect(201);
  const statuses: number[] = [];
  for (let round = 0; round < 8; round++) {
    const res = await t.api.patch(`${t.base}/Basic/deep`).set('Content-Type', 'application/json-patch+json').send(deepen);
    statuses.push(res.status);
    if (res.status >= 500) break;
  }
  // Today: [200, 200, 200, 200, 200, 500] — the stored resource reaches ~1,250 levels, then PATCH crashes.
  expect(statuses.every((status) => status < 500)).toBe(true);
  const stored = await t.api.get(`${t.base}/Basic/deep`).expect(200);
  expect(depthOf(stored.body)).toBeLessThanOrEqual(64);
  expect(statuses[0]).toBeGreaterThanOrEqual(400);
});
