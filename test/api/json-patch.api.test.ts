/**
 * JSON Patch edge cases over HTTP (docs/fhir-rest.md#patch): a malformed patch document → 400, a patch that cannot
 * be applied to this version → 422, a result that is not this resource (no object, another id or resourceType) or
 * is not a valid resource → 400; every refusal is an OperationOutcome and leaves the stored resource unchanged.
 */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
const PATCH_JSON = 'application/json-patch+json';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const patient = (id: string) => ({
  resourceType: 'Patient',
  id,
  active: true,
  name: [{ family: 'Curie', given: ['Marie'] }, { family: 'Skłodowska' }],
  birthDate: '1867-11-07',
});

async function stored(id: string): Promise<request.Response> {
  const res = await t.api.get(`${t.base}/Patient/${id}`);
  expect(res.status).toBe(200);
  return res;
}

/** Sends a raw patch body (so own `__proto__` members and non-array bodies reach the server as written). */
function patch(id: string, body: string): request.Test {
  return t.api.patch(`${t.base}/Patient/${id}`).set('Content-Type', PATCH_JSON).send(body);
}

const op = (fields: Record<string, unknown>) => JSON.stringify([fields]);

describe('refused patches', () => {
  const id = 'patch-edges';
  beforeAll(async () => {
    expect((await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient(id))).status).toBe(201);
  });

  const malformed: Array<[string, string]> = [
    ['an object body', '{"op":"remove","path":""}'],
    ['a null operation', '[null]'],
    ['a number operation', '[1]'],
    ['an array operation', '[[]]'],
    ['no op', op({ path: '/active' })],
    ['an unknown op', op({ op: 'jump', path: '/active' })],
    ['the library-internal _get op', op({ op: '_get', path: '/active' })],
    ['an inherited member as op', op({ op: 'toString', path: '/active' })],
    ['__proto__ as op', op({ op: '__proto__', path: '/active' })],
    ['no path', op({ op: 'remove' })],
    ['a numeric path', op({ op: 'remove', path: 5 })],
    ['a path without a leading slash', op({ op: 'remove', path: 'active' })],
    ['add without value', op({ op: 'add', path: '/active' })],
    ['replace without value', op({ op: 'replace', path: '/active' })],
    ['test without value', op({ op: 'test', path: '/active' })],
    ['copy without from', op({ op: 'copy', path: '/x' })],
    ['move with a null from', op({ op: 'move', from: null, path: '/x' })],
    ['a ~ escape other than ~0/~1', op({ op: 'add', path: '/a~2b', value: 1 })],
    ['a trailing ~', op({ op: 'add', path: '/a~', value: 1 })],
    ['a __proto__ path', op({ op: 'add', path: '/__proto__/polluted', value: true })],
    ['a constructor/prototype path', op({ op: 'add', path: '/constructor/prototype/polluted', value: true })],
    ['an escaped __proto__ path in an array', op({ op: 'add', path: '/name/0/__proto__', value: {} })],
    ['a __proto__ from', op({ op: 'copy', from: '/__proto__', path: '/x' })],
    ['a move into its own child', op({ op: 'move', from: '/name', path: '/name/0/x' })],
    ['1,001 operations', JSON.stringify(Array.from({ length: 1001 }, () => ({ op: 'test', path: '/active', value: true })))],
  ];

  const notApplicable: Array<[string, string]> = [
    ['a failing test', op({ op: 'test', path: '/birthDate', value: '2000-01-01' })],
    ['a test of a missing member', op({ op: 'test', path: '/gender', value: 'female' })],
    ['a test of an inherited member', op({ op: 'test', path: '/toString', value: {} })],
    ['a test whose value has an own hasOwnProperty member', op({ op: 'test', path: '/name/1', value: { hasOwnProperty: 1 } })],
    ['a test through a missing parent', op({ op: 'test', path: '/nope/deep', value: 1 })],
    ['remove of a missing member', op({ op: 'remove', path: '/gender' })],
    ['replace of a missing member', op({ op: 'replace', path: '/gender', value: 'female' })],
    ['remove past the end of an array', op({ op: 'remove', path: '/name/7' })],
    ['remove of "-"', op({ op: 'remove', path: '/name/-' })],
    ['replace of "-"', op({ op: 'replace', path: '/name/-', value: { family: 'X' } })],
    ['add past the end of an array', op({ op: 'add', path: '/name/3', value: { family: 'X' } })],
    ['add at a huge index', op({ op: 'add', path: '/name/99999999999', value: { family: 'X' } })],
    ['add at 2^32 (which 32-bit truncation would make 0)', op({ op: 'add', path: '/name/4294967296', value: { family: 'X' } })],
    ['add at a zero-padded index', op({ op: 'add', path: '/name/01', value: { family: 'X' } })],
    ['add at a negative index', op({ op: 'add', path: '/name/-1', value: { family: 'X' } })],
    ['add under a missing parent', op({ op: 'add', path: '/contact/0/name', value: { family: 'X' } })],
    ['add under a primitive', op({ op: 'add', path: '/birthDate/x', value: 1 })],
    ['copy from a missing path', op({ op: 'copy', from: '/gender', path: '/x' })],
    ['copy from an inherited member', op({ op: 'copy', from: '/toString', path: '/x' })],
    ['move from a missing path', op({ op: 'move', from: '/name/5', path: '/name/0' })],
    ['move to an index that no longer exists once the value is removed', op({ op: 'move', from: '/name/0', path: '/name/2' })],
    ['a valid replace followed by a failing test', JSON.stringify([{ op: 'replace', path: '/active', value: false }, { op: 'test', path: '/active', value: true }])],
  ];

  const notThisResource: Array<[string, string, string[] | undefined]> = [
    ['remove of the whole document', op({ op: 'remove', path: '' }), ['Patient']],
    ['replace of the whole document with null', op({ op: 'replace', path: '', value: null }), ['Patient']],
    ['replace of the whole document with a string', op({ op: 'replace', path: '', value: 'Patient' }), ['Patient']],
    ['replace of the whole document with an array', op({ op: 'replace', path: '', value: [patient(id)] }), ['Patient']],
    ['add of a number as the whole document', op({ op: 'add', path: '', value: 7 }), ['Patient']],
    ['a whole document with another id', op({ op: 'replace', path: '', value: patient('someone-else') }), ['Patient.id']],
    ['replace of /id', op({ op: 'replace', path: '/id', value: 'other' }), ['Patient.id']],
    ['remove of /id', op({ op: 'remove', path: '/id' }), ['Patient.id']],
    ['a move of /id elsewhere', op({ op: 'move', from: '/id', path: '/x' }), ['Patient.id']],
    ['replace of /resourceType', op({ op: 'replace', path: '/resourceType', value: 'Observation' }), ['Patient.resourceType']],
    ['remove of /resourceType', op({ op: 'remove', path: '/resourceType' }), ['Patient.resourceType']],
    ['replace of /meta with a number', op({ op: 'replace', path: '/meta', value: 5 }), ['Patient.meta']],
    ['an unknown element reached through ~1', op({ op: 'add', path: '/a~1b', value: 1 }), undefined],
    ['an invalid value', op({ op: 'replace', path: '/birthDate', value: 'not-a-date' }), ['Patient.birthDate']],
    ['an own __proto__ member in a value', op({ op: 'add', path: '/name/-', value: JSON.parse('{"__proto__":{"polluted":true}}') as unknown }), undefined],
  ];

  const refusedLeavesNothing = async (body: string, status: number, code: string, expression?: string[]) => {
    const before = await stored(id);
    const res = await patch(id, body);
    expect({ status: res.status, resourceType: res.body?.resourceType, code: res.body?.issue?.[0]?.code }).toEqual({ status, resourceType: 'OperationOutcome', code });
    if (expression) expect(res.body.issue[0].expression).toEqual(expression);
    expect((await stored(id)).body).toEqual(before.body);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  };

  it.each(malformed)('400 invalid for %s', async (_label, body) => {
    await refusedLeavesNothing(body, 400, 'invalid');
  });

  it('400 structure for a body that is not a JSON object or array', async () => {
    await refusedLeavesNothing('"remove"', 400, 'structure');
  });

  it.each(notApplicable)('422 processing for %s', async (_label, body) => {
    await refusedLeavesNothing(body, 422, 'processing');
  });

  it.each(notThisResource)('400 for %s', async (_label, body, expression) => {
    const res = await patch(id, body);
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    if (expression) expect(res.body.issue[0].expression).toEqual(expression);
    expect((await stored(id)).body.meta.versionId).toBe('1');
  });

  it('422 too-costly when copies would duplicate more than 1 MiB of JSON', async () => {
    const doubling = Array.from({ length: 40 }, () => ({ op: 'copy', from: '/name', path: '/name/-' }));
    await refusedLeavesNothing(JSON.stringify(doubling), 422, 'too-costly');
  });

  it('answers a transaction entry whose patch removes the whole document with 400, naming nothing stored', async () => {
    const data = Buffer.from(op({ op: 'remove', path: '' })).toString('base64');
    const res = await t.api
      .post(t.base)
      .set('Content-Type', FHIR_JSON)
      .send({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { resourceType: 'Binary', contentType: PATCH_JSON, data }, request: { method: 'PATCH', url: `Patient/${id}` } }],
      });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect((await stored(id)).body.meta.versionId).toBe('1');
  });
});

describe('accepted patches', () => {
  let n = 0;
  const fresh = async (): Promise<string> => {
    const id = `patch-ok-${++n}`;
    expect((await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient(id))).status).toBe(201);
    return id;
  };

  it('a test of meta.versionId guards a change', async () => {
    const id = await fresh();
    const res = await patch(id, JSON.stringify([{ op: 'test', path: '/meta/versionId', value: '1' }, { op: 'replace', path: '/active', value: false }]));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: false, meta: { versionId: '2' } });
    expect((await patch(id, JSON.stringify([{ op: 'test', path: '/meta/versionId', value: '1' }, { op: 'replace', path: '/active', value: true }]))).status).toBe(422);
  });

  it('server-managed meta elements are set by the server whatever the patch says; meta may be removed', async () => {
    const id = await fresh();
    const res = await patch(id, JSON.stringify([{ op: 'replace', path: '/meta/versionId', value: '99' }, { op: 'remove', path: '/meta/lastUpdated' }]));
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ versionId: '2', lastUpdated: expect.any(String) });
    const removed = await patch(id, op({ op: 'remove', path: '/meta' }));
    expect(removed.status).toBe(200);
    expect(removed.body.meta).toEqual({ versionId: '3', lastUpdated: expect.any(String) });
  });

  it('"-" appends, indexes insert, move and copy follow RFC 6902 §4.4-4.5, and "" replaces the whole resource', async () => {
    const id = await fresh();
    const res = await patch(
      id,
      JSON.stringify([
        { op: 'add', path: '/name/-', value: { family: 'Last' } },
        { op: 'add', path: '/name/0', value: { family: 'First' } },
        { op: 'move', from: '/name/3', path: '/name/1' },
        { op: 'copy', from: '/name/0/family', path: '/name/2/family' },
        { op: 'test', path: '/name', value: [{ family: 'First' }, { family: 'Last' }, { family: 'First', given: ['Marie'] }, { family: 'Skłodowska' }] },
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.name).toEqual([{ family: 'First' }, { family: 'Last' }, { family: 'First', given: ['Marie'] }, { family: 'Skłodowska' }]);
    const whole = await patch(id, op({ op: 'replace', path: '', value: { resourceType: 'Patient', id, gender: 'female' } }));
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual({ resourceType: 'Patient', id, gender: 'female', meta: { versionId: '3', lastUpdated: expect.any(String) } });
  });

  it('an empty patch stores a new, identical version', async () => {
    const id = await fresh();
    const res = await patch(id, '[]');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...patient(id), meta: { versionId: '2', lastUpdated: expect.any(String) } });
  });
});
