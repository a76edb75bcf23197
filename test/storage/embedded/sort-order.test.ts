import { selectSorted, sortDocuments } from '../../../src/storage/embedded/sort-order';
import type { Sort } from '../../../src/storage/ports';

// Deterministic PRNG so a failing case reproduces.
let seed = 4242;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const VALUES: unknown[] = [undefined, null, 0, 1, 2.5, -3, 'a', 'b', 'B', '', [], [1, 'z'], ['a', 3], { x: 1 }, true, false];
const pick = (): unknown => VALUES[Math.floor(rand() * VALUES.length)];

describe('selectSorted', () => {
  it('returns the same first documents as a full stable sort, for mixed types, arrays and missing values', async () => {
    for (let round = 0; round < 300; round++) {
      const docs = Array.from({ length: Math.floor(rand() * 60) }, (_, i) => {
        const doc: Record<string, unknown> = { n: i };
        const a = pick();
        const b = pick();
        if (a !== undefined) doc.a = a;
        if (b !== undefined) doc.sort = { b };
        return doc;
      });
      const sort: Sort = [['a', rand() < 0.5 ? 1 : -1], ['sort.b', rand() < 0.5 ? 1 : -1]];
      const limit = Math.floor(rand() * 25);
      expect((await selectSorted(docs, sort, limit)).map((d) => d.n)).toEqual(sortDocuments(docs, sort).slice(0, limit).map((d) => d.n));
    }
  });
});
