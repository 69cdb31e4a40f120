import { DDSketch } from '@datadog/sketches-js';
import { z } from 'zod';

/**
 * Relative accuracy of every sketch on the wire: a quantile is within ±1 % of a true sample
 * value. Fixed in v1 so that any two sketches merge (DDSketch merges only equal accuracies).
 */
export const SKETCH_ALPHA = 0.01;

/**
 * A DDSketch (Masson et al., VLDB 2019, via @datadog/sketches-js) as plain JSON: the count of
 * each non-empty logarithmic bin. Bins are what DDSketch merges, so merging two sketches is adding
 * their bins (exact, commutative, associative); the quantile is read by the library. We do not use
 * the library's protobuf serialisation: it needs protobufjs, which the package does not declare.
 * Only non-negative values (tokens, usd) are supported.
 */
export const sketchDataSchema = z.object({
  alpha: z.literal(SKETCH_ALPHA),
  /** Values at (or indistinguishable from) 0. */
  zeros: z.number().nonnegative(),
  /** [bin key, count] with strictly increasing keys and positive counts. */
  bins: z
    .array(z.tuple([z.number().int(), z.number().positive()]))
    .max(4096)
    .refine((bins) => bins.every((b, i) => i === 0 || (bins[i - 1]?.[0] ?? -Infinity) < b[0]), 'bin keys must be strictly increasing'),
});
export type SketchData = z.infer<typeof sketchDataSchema>;

export const emptySketch = (): SketchData => ({ alpha: SKETCH_ALPHA, zeros: 0, bins: [] });

/** The library's value → bin mapping for SKETCH_ALPHA. */
const MAPPING = new DDSketch({ relativeAccuracy: SKETCH_ALPHA }).mapping;

/** Values counted by the sketch. */
export const sketchCount = (s: SketchData): number => s.bins.reduce((acc, [, c]) => acc + c, s.zeros);

/** A one-value sketch; negative or non-finite values throw (nothing we sketch can be negative). */
export function sketchOfValue(value: number, weight = 1): SketchData {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`sketch: values must be finite and ≥ 0, got ${value}`);
  if (value <= MAPPING.minPossible) return { alpha: SKETCH_ALPHA, zeros: weight, bins: [] };
  return { alpha: SKETCH_ALPHA, zeros: 0, bins: [[MAPPING.key(value), weight]] };
}

/** Sketch of many values. */
export function sketchOf(values: Iterable<number>): SketchData {
  const d = new DDSketch({ relativeAccuracy: SKETCH_ALPHA });
  for (const v of values) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`sketch: values must be finite and ≥ 0, got ${v}`);
    d.accept(v);
  }
  return fromDDSketch(d);
}

/** Bin-wise sum of two sketches: O(bins), exact, commutative and associative. */
export function mergeSketches(a: SketchData, b: SketchData): SketchData {
  if (b.bins.length === 0 && b.zeros === 0) return a;
  if (a.bins.length === 0 && a.zeros === 0) return b;
  const bins: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.bins.length || j < b.bins.length) {
    const x = a.bins[i];
    const y = b.bins[j];
    if (y === undefined || (x !== undefined && x[0] < y[0])) {
      bins.push([x![0], x![1]]);
      i++;
    } else if (x === undefined || y[0] < x[0]) {
      bins.push([y[0], y[1]]);
      j++;
    } else {
      bins.push([x[0], x[1] + y[1]]);
      i++;
      j++;
    }
  }
  return { alpha: SKETCH_ALPHA, zeros: a.zeros + b.zeros, bins };
}

/** The q-quantile (0 ≤ q ≤ 1) within ±1 % relative error, or NaN for an empty sketch. */
export function sketchQuantile(s: SketchData, q: number): number {
  return toDDSketch(s).getValueAtQuantile(q);
}

/** A live library sketch (for a producer that accepts many values before serialising). */
export function toDDSketch(s: SketchData): DDSketch {
  const d = new DDSketch({ relativeAccuracy: s.alpha });
  for (const [key, count] of s.bins) d.store.add(key, count);
  d.zeroCount = s.zeros;
  d.count = sketchCount(s);
  return d;
}

/** Serialises a library sketch built with SKETCH_ALPHA (non-negative values only). */
export function fromDDSketch(d: DDSketch): SketchData {
  if (d.mapping.relativeAccuracy !== SKETCH_ALPHA) throw new RangeError(`sketch: relative accuracy must be ${SKETCH_ALPHA}`);
  if (d.negativeStore.count > 0) throw new RangeError('sketch: negative values are not supported');
  const bins: [number, number][] = [];
  const store = d.store;
  for (let i = 0; i < store.bins.length; i++) {
    const c = store.bins[i] ?? 0;
    if (c > 0) bins.push([i + store.offset, c]);
  }
  return { alpha: SKETCH_ALPHA, zeros: d.zeroCount, bins };
}
