import fc from 'fast-check';
import { quantileSorted } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import {
  emptySketch,
  fromDDSketch,
  mergeSketches,
  SKETCH_ALPHA,
  sketchCount,
  sketchDataSchema,
  sketchOf,
  sketchOfValue,
  sketchQuantile,
  toDDSketch,
} from '../../../src/windows/quantile-sketch.ts';

const tokens = fc.array(fc.integer({ min: 0, max: 2_000_000 }), { maxLength: 80 });

describe('quantile sketch (DDSketch as JSON)', () => {
  it.each([
    { name: '1..1000, p99', xs: Array.from({ length: 1000 }, (_, i) => i + 1), q: 0.99 },
    { name: '1..1000, median', xs: Array.from({ length: 1000 }, (_, i) => i + 1), q: 0.5 },
    { name: 'constant', xs: Array<number>(50).fill(1234), q: 0.99 },
    { name: 'heavy tail', xs: Array.from({ length: 500 }, (_, i) => Math.round(1000 * Math.exp(i / 60))), q: 0.99 },
  ])('$name: within ±1 % of the sample quantile', ({ xs, q }) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const exact = quantileSorted(sorted, q);
    const got = sketchQuantile(sketchOf(xs), q);
    // DDSketch answers a sample value near rank q·(n−1) within α relative error.
    const lo = sorted[Math.floor(q * (sorted.length - 1))]!;
    const hi = sorted[Math.ceil(q * (sorted.length - 1))]!;
    expect(got).toBeGreaterThanOrEqual(lo * (1 - SKETCH_ALPHA) - 1e-9);
    expect(got).toBeLessThanOrEqual(hi * (1 + SKETCH_ALPHA) + 1e-9);
    expect(Math.abs(got - exact) / exact).toBeLessThan(0.02);
  });

  it('empty sketch: count 0, quantile NaN', () => {
    expect(sketchCount(emptySketch())).toBe(0);
    expect(sketchQuantile(emptySketch(), 0.5)).toBeNaN();
  });

  it('zeros are counted apart', () => {
    const s = sketchOf([0, 0, 0, 10]);
    expect(s.zeros).toBe(3);
    expect(sketchQuantile(s, 0.5)).toBe(0);
  });

  it('rejects negative and non-finite values', () => {
    expect(() => sketchOfValue(-1)).toThrow(RangeError);
    expect(() => sketchOf([1, Number.NaN])).toThrow(RangeError);
    expect(() => sketchOfValue(Infinity)).toThrow(RangeError);
  });

  it('merge is exactly commutative and associative, and equals the sketch of the union', () => {
    fc.assert(
      fc.property(tokens, tokens, tokens, (a, b, c) => {
        const [x, y, z] = [sketchOf(a), sketchOf(b), sketchOf(c)];
        expect(mergeSketches(x, y)).toEqual(mergeSketches(y, x));
        expect(mergeSketches(mergeSketches(x, y), z)).toEqual(mergeSketches(x, mergeSketches(y, z)));
        expect(mergeSketches(x, y)).toEqual(sketchOf([...a, ...b]));
        expect(mergeSketches(x, emptySketch())).toEqual(x);
      }),
    );
  });

  it('building from single values equals sketchOf', () => {
    fc.assert(
      fc.property(tokens, (xs) => {
        expect(xs.map((v) => sketchOfValue(v)).reduce(mergeSketches, emptySketch())).toEqual(sketchOf(xs));
      }),
    );
  });

  it('round-trips through JSON, the schema and the library sketch', () => {
    fc.assert(
      fc.property(tokens, (xs) => {
        const s = sketchOf(xs);
        const parsed = sketchDataSchema.parse(JSON.parse(JSON.stringify(s)));
        expect(parsed).toEqual(s);
        expect(fromDDSketch(toDDSketch(s))).toEqual(s);
        expect(toDDSketch(s).count).toBe(xs.length);
      }),
    );
  });

  it('schema rejects unsorted bins and another accuracy', () => {
    expect(sketchDataSchema.safeParse({ alpha: SKETCH_ALPHA, zeros: 0, bins: [[5, 1], [3, 1]] }).success).toBe(false);
    expect(sketchDataSchema.safeParse({ alpha: 0.02, zeros: 0, bins: [] }).success).toBe(false);
    expect(sketchDataSchema.safeParse({ alpha: SKETCH_ALPHA, zeros: 0, bins: [[5, 0]] }).success).toBe(false);
  });
});
