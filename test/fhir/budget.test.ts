import { RequestBudget, SerializedJson, stringifyWithPieces, TooCostlyError } from '../../src/fhir/budget';
import { ResourceCollection, YIELD_EVERY } from '../../src/storage/embedded/collection';
import type { ResourceDocument } from '../../src/storage/ports';

describe('the request budget', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('serializes pieces once and inserts them as they are, whatever a resource holds', () => {
    const budget = new RequestBudget(10_000, 60_000);
    const resource = { resourceType: 'Patient', id: 'p', name: [{ family: 'é"\u0000\\', given: ['"\u0000fhir-json-'] }] };
    const piece = budget.serialize(resource);
    const { text, inserted } = stringifyWithPieces({ resourceType: 'Bundle', entry: [{ resource: piece }, { resource: new SerializedJson('{"a":1}') }] });
    expect(JSON.parse(text)).toEqual({ resourceType: 'Bundle', entry: [{ resource }, { resource: { a: 1 } }] });
    expect(inserted).toBe(piece.text.length + 7);
  });

  it('counts only what was not counted before and refuses past the limit', () => {
    const budget = new RequestBudget(1_000, 60_000);
    const piece = budget.serialize({ text: 'x'.repeat(500) });
    // The envelope around an already counted piece adds only its own characters.
    budget.serialize({ entry: [piece, piece] });
    expect(() => budget.serialize({ text: 'x'.repeat(500) })).toThrow(TooCostlyError);
    expect(() => budget.checkRoom()).toThrow(/MAX_RESPONSE_BYTES/);
  });

  it('stops work past the deadline with too-costly', () => {
    jest.useFakeTimers({ now: new Date('2026-06-01T00:00:00Z') });
    const budget = new RequestBudget(1_000_000, 5_000);
    budget.checkTime();
    budget.serialize({ a: 1 });
    jest.setSystemTime(new Date('2026-06-01T00:00:05.001Z'));
    expect(() => budget.checkTime()).toThrow(/REQUEST_TIMEOUT_MS/);
    expect(() => budget.serialize({ a: 1 })).toThrow(TooCostlyError);
    let refusal: unknown;
    try {
      budget.checkRoom();
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toMatchObject({ status: 422, issues: [{ code: 'too-costly' }] });
  });
});

describe('long scans of the embedded store', () => {
  it('let other work run while they go on', async () => {
    const collection = new ResourceCollection();
    // Enough documents, each tested against a pattern, that the scan runs for several time slices.
    const total = YIELD_EVERY * 1000;
    for (let i = 0; i < total; i++) {
      const doc: ResourceDocument = { _id: `p/Observation/o${i}`, project: 'p', type: 'Observation', id: `o${i}`, versionId: 1, lastUpdated: '2026-01-01T00:00:00.000Z', deleted: false, method: 'create', index: {} };
      collection.put(doc);
    }
    const order: string[] = [];
    const scan = collection.find({ project: 'p', type: 'Observation', deleted: false, id: { $regex: '^o\\d+$' } }).then((docs) => order.push(`scan:${docs.length}`));
    setImmediate(() => order.push('other'));
    await scan;
    expect(order).toEqual(['other', `scan:${total}`]);
  });
});
