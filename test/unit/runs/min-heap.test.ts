import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMinHeap } from '../../../src/runs/min-heap.ts';

const less = (a: number, b: number) => a < b;
const drain = <T>(h: { pop(): T | undefined; readonly size: number }) => {
  const out: T[] = [];
  while (h.size > 0) out.push(h.pop() as T);
  return out;
};

describe('createMinHeap', () => {
  it('is empty at first', () => {
    const h = createMinHeap(less);
    expect([h.size, h.peek(), h.pop()]).toEqual([0, undefined, undefined]);
  });

  it('property: pushes, or initial items, pop in sorted order; peek is the next pop', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 })), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const pushed = createMinHeap(less);
        for (const x of xs) pushed.push(x);
        expect(pushed.peek()).toBe(sorted[0]);
        expect(drain(pushed)).toEqual(sorted);
        expect(drain(createMinHeap(less, xs))).toEqual(sorted);
      }),
    );
  });

  it('property: interleaved pushes and pops always pop the current minimum', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.nat(100), { freq: 3 })), (ops) => {
        const h = createMinHeap(less);
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            model.sort((a, b) => a - b);
            expect(h.pop()).toBe(model.shift());
          } else {
            h.push(op);
            model.push(op);
          }
          expect(h.size).toBe(model.length);
        }
      }),
    );
  });
});
