import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/contracts/canonical.ts';

/** A small deterministic PRNG (mulberry32), so a failing shuffle replays from its seed. */
function prng(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** The same JSON value with every object's keys in a random order. */
function withShuffledKeys(value: unknown, next: (below: number) => number): unknown {
  if (Array.isArray(value)) return value.map((v) => withShuffledKeys(v, next));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [keys[i], keys[j]] = [keys[j] as string, keys[i] as string];
  }
  return Object.fromEntries(keys.map((k) => [k, withShuffledKeys((value as Record<string, unknown>)[k], next)]));
}

describe('canonicalJson', () => {
  // Golden strings: another language's implementation must produce these bytes to verify an HMAC.
  it.each([
    [{ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}'],
    [{ z: 'é', a: '\n"\\' }, '{"a":"\\n\\"\\\\","z":"é"}'],
    [{ a: undefined, b: [undefined, 1] }, '{"b":[null,1]}'],
    [{ n: 1e21, m: 0.1, k: -0, j: 1.5e-7 }, '{"j":1.5e-7,"k":0,"m":0.1,"n":1e+21}'],
    [[], '[]'],
    [{}, '{}'],
    ['x', '"x"'],
    [null, 'null'],
    [true, 'true'],
    // Keys sort by UTF-16 code units, as RFC 8785 (JCS) does: U+00E9 < U+1F600 (D83D…) < U+FF5A.
    [{ 'ｚ': 1, '😀': 2, 'é': 3, B: 4, a: 5 }, '{"B":4,"a":5,"é":3,"😀":2,"ｚ":1}'],
    // Integer-like keys sort as strings too (a JS object would list them first, numerically).
    [{ a: 1, 10: 2, 9: 3, '': 4 }, '{"":4,"10":2,"9":3,"a":1}'],
  ])('%j → %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('rejects non-finite numbers instead of writing null', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson([Infinity])).toThrow(TypeError);
  });

  it('is independent of key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        expect(canonicalJson(withShuffledKeys(value, prng(seed)))).toBe(canonicalJson(value));
      }),
    );
  });

  it('is valid JSON for the same value, with no whitespace outside strings, and a fixed point', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        // Compared through JSON: -0 is written as 0, like JSON.stringify does.
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        // Nothing but key order differs from JSON.stringify (which writes no whitespace either).
        // Lengths, not strings: JS objects list integer-like keys first, so a sorted copy would not stay sorted.
        expect(text.length).toBe(JSON.stringify(value).length);
      }),
    );
  });
});
