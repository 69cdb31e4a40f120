import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWindow, windowAdd, windowFold, windowRange, type BucketWindow, type Placement } from '../../../src/windows/bucket-window.ts';

const add = (a: number, b: number) => a + b;
const M = 60_000;

describe('bucket window', () => {
  it.each<{ name: string; ts: number[]; placed: Placement[]; buckets: [number, number][] }>([
    { name: 'first value opens a bucket', ts: [0], placed: ['rolled'], buckets: [[0, 1]] },
    { name: 'same minute folds into the open bucket', ts: [0, 59_999], placed: ['rolled', 'open'], buckets: [[0, 2]] },
    { name: 'next minute rolls', ts: [0, M], placed: ['rolled', 'rolled'], buckets: [[0, 1], [1, 1]] },
    { name: 'a late value lands in its closed bucket', ts: [0, 2 * M, M + 5], placed: ['rolled', 'rolled', 'late'], buckets: [[0, 1], [1, 1], [2, 1]] },
    { name: 'late into an existing closed bucket', ts: [0, 2 * M, 10], placed: ['rolled', 'rolled', 'late'], buckets: [[0, 2], [2, 1]] },
    { name: 'older than the horizon is dropped', ts: [0, 3 * M, 5], placed: ['rolled', 'rolled', 'dropped'], buckets: [[3, 1]] },
    { name: 'a gap evicts buckets past the horizon', ts: [0, M, 2 * M, 4 * M], placed: ['rolled', 'rolled', 'rolled', 'rolled'], buckets: [[2, 1], [4, 1]] },
  ])('$name', ({ ts, placed, buckets }) => {
    let w = createWindow<number>(M, 3);
    const got: Placement[] = [];
    for (const t of ts) {
      const r = windowAdd(w, t, 1, add);
      got.push(r.placed);
      w = r.window;
    }
    expect(got).toEqual(placed);
    expect(windowRange(w, -Infinity, Infinity).map((b) => [b.index, b.value])).toEqual(buckets);
  });

  it('rejects a bad shape', () => {
    expect(() => createWindow(0, 3)).toThrow(RangeError);
    expect(() => createWindow(M, 0)).toThrow(RangeError);
  });

  it('does not mutate the window it is given', () => {
    const w0 = windowAdd(createWindow<number>(M, 5), 0, 1, add).window;
    const w1 = windowAdd(w0, 2 * M, 1, add).window;
    const snapshot = JSON.stringify(w1);
    windowAdd(w1, M, 1, add);
    windowAdd(w1, 2 * M + 1, 1, add);
    windowAdd(w1, 3 * M, 1, add);
    expect(JSON.stringify(w1)).toBe(snapshot);
  });

  it('model: every bucket holds the sum of the values of its minute within the horizon of the newest', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 20 * M }), fc.integer({ min: 1, max: 9 })), { maxLength: 60 }), (horizon, adds) => {
        let w: BucketWindow<number> = createWindow(M, horizon);
        let newest = -Infinity;
        const kept: [number, number][] = [];
        for (const [ts, v] of adds) {
          const idx = Math.floor(ts / M);
          const r = windowAdd(w, ts, v, add);
          w = r.window;
          if (idx > newest - horizon) kept.push([idx, v]);
          newest = Math.max(newest, idx);
        }
        const expected = new Map<number, number>();
        for (const [idx, v] of kept) if (idx > newest - horizon) expected.set(idx, (expected.get(idx) ?? 0) + v);
        const got = windowRange(w, -Infinity, Infinity);
        expect(got.map((b) => [b.index, b.value])).toEqual([...expected].sort((a, b) => a[0] - b[0]));
        expect(windowFold(w, newest - 1, newest, 0, add)).toBe((expected.get(newest) ?? 0) + (expected.get(newest - 1) ?? 0));
        // JSON round trip keeps the window.
        expect(JSON.parse(JSON.stringify(w))).toEqual(w);
      }),
    );
  });
});
