/**
 * mulberry32: a small seeded generator of floats in [0, 1), so a property or fuzz test that fails can be replayed
 * from its seed.
 * @param seed - any 32-bit integer
 * @returns the generator
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
