import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addMinutes, spendBetween, zeroFilled, type MinuteTotals } from '../../../detectors/lib/minute-baseline.ts';
import { createWindow, windowAdd, type BucketWindow } from '../../../src/windows/bucket-window.ts';
import { MINUTE_MS } from '../../../src/windows/cohort-partial.ts';

describe('spendBetween', () => {
  it('is start plus the zero-filled minutes’ spend, summed oldest first (bit for bit)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 90 }), fc.double({ min: 0, max: 50, noNaN: true })), { maxLength: 60 }),
        fc.integer({ min: -5, max: 95 }),
        fc.integer({ min: 0, max: 10 }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        (adds, from, span, start) => {
          let w: BucketWindow<MinuteTotals> = createWindow<MinuteTotals>(MINUTE_MS, 61);
          for (const [minute, usd] of adds) w = windowAdd(w, minute * MINUTE_MS, { spend_usd: usd, llm_calls: 1 }, addMinutes).window;
          const to = from + span;
          const want = zeroFilled(w, from, to).reduce((acc, m) => acc + m.spend_usd, start);
          expect(spendBetween(w, from, to, start)).toBe(want);
        },
      ),
    );
  });
});
