import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  initialSpikeBaselineState,
  SPIKE_BASELINE_NAB_PARAMS,
  spikeBaselineParamsSchema,
  spikeBaselineScores,
  spikeBaselineStep,
  type SpikeBaselineParams,
  type SpikeBaselinePoint,
  type SpikeBaselineResult,
  type SpikeBaselineState,
} from '../../../src/eval/nab/spike-baseline.ts';

const MINUTE = 60_000;
const P: SpikeBaselineParams = {
  baselinePoints: 20,
  baselineMs: null,
  minHistory: 5,
  absFloor: 0,
  relFloor: 0,
  alertZ: 3,
  direction: 'both',
  recordPoints: 0,
  cooldownPoints: 0,
};

/** One point a minute from t = 0. */
const series = (values: readonly number[]): SpikeBaselinePoint[] => values.map((value, i) => ({ ts: i * MINUTE, value }));

function run(values: readonly number[], params: SpikeBaselineParams = P): SpikeBaselineResult[] {
  let state = initialSpikeBaselineState();
  return series(values).map((p) => {
    const r = spikeBaselineStep(state, p, params);
    state = r.state;
    return r;
  });
}

/** 10, 12, 10, 12, … : median 11, every |x − 11| = 1, so MAD 1 and σ = 1.4826. */
const ALTERNATING = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 10 : 12));
const SIGMA = 1.4826;

describe('spikeBaselineStep', () => {
  it('scores nothing before minHistory points', () => {
    const out = run([10, 12, 10, 12, 10, 100]);
    expect(out.slice(0, 5).map((r) => [r.score, r.z, r.baseline])).toEqual(Array.from({ length: 5 }, () => [0, null, null]));
    // 10, 10, 10, 12, 12: median 10, MAD 0, so σ = 1.2533 × mean |x − 10| = 1.2533 × 0.8
    expect(out[5]?.baseline).toEqual({ median: 10, sigma: expect.closeTo(1.2533 * 0.8, 12) });
    expect(out[5]?.alert).toBe(true);
  });

  it('scores a point by its deviation from the median in robust σ: score = z / (z + alertZ)', () => {
    const last = run([...ALTERNATING, 11 + 3 * SIGMA]).at(-1);
    expect(last?.baseline).toEqual({ median: 11, sigma: expect.closeTo(SIGMA, 12) });
    expect(last?.z).toBeCloseTo(3, 12);
    expect(last?.score).toBeCloseTo(0.5, 12);
    expect(last?.alert).toBe(true);
    const below = run([...ALTERNATING, 11 + 1.5 * SIGMA]).at(-1);
    expect(below?.score).toBeCloseTo(1.5 / 4.5, 12);
    expect(below?.alert).toBe(false);
  });

  it('falls back to 1.2533 × mean |x − median| when the MAD is 0 (quantised series)', () => {
    // 15 × 10 and 5 × 14: median 10, MAD 0, mean |x − 10| = 20 / 20 = 1.
    const quantised = [...Array.from({ length: 15 }, () => 10), 14, 14, 14, 14, 14];
    const last = run([...quantised, 10]).at(-1);
    expect(last?.baseline).toEqual({ median: 10, sigma: expect.closeTo(1.2533, 12) });
  });

  it('raises σ to the absolute and relative floors, so noise on a flat series never alerts', () => {
    const flat = Array.from({ length: 20 }, (_, i) => 100 + (i % 2) * 0.01);
    const noisy = run([...flat, 101], { ...P, relFloor: 0.1 }).at(-1);
    // median (100 + 100.01) / 2, σ = 0.1 × median
    expect(noisy?.baseline?.sigma).toBeCloseTo(0.1 * 100.005, 9);
    expect(noisy?.alert).toBe(false);
    expect(run([...flat, 101], { ...P, absFloor: 5 }).at(-1)?.baseline?.sigma).toBe(5);
    // without a floor, the same 1 % wiggle is a huge deviation
    expect(run([...flat, 101]).at(-1)?.alert).toBe(true);
  });

  it('is barely moved by outliers: a second spike right after the first still alerts', () => {
    const params = { ...P, baselinePoints: 40 };
    const out = run([...ALTERNATING, 1000, 1000, 1000], params);
    expect(out.slice(20).map((r) => r.alert)).toEqual([true, true, true]);
    // two spikes among 22 points move the median by one order statistic (11 → 12) and the MAD
    // from 1 to 2 (|x − 12| is 0 ×10, 2 ×10, 988 ×2); a mean and σ would have jumped to ~100 and ~290
    expect(out[22]?.baseline).toEqual({ median: 12, sigma: expect.closeTo(2 * SIGMA, 12) });
    expect(out[22]?.z).toBeCloseTo(988 / (2 * SIGMA), 9);
  });

  it('scores only rises with direction "up"', () => {
    expect(run([...ALTERNATING, 0], { ...P, direction: 'up' }).at(-1)?.score).toBe(0);
    expect(run([...ALTERNATING, 0]).at(-1)?.alert).toBe(true);
  });

  it('stays quiet for cooldownPoints after an alert', () => {
    const out = run([...ALTERNATING, 100, 100, 100, 100], { ...P, cooldownPoints: 2, baselinePoints: 20 });
    expect(out.slice(20).map((r) => r.alert)).toEqual([true, false, false, true]);
    expect(out[21]?.score).toBe(0);
    expect(out[21]?.z).toBeGreaterThan(3);
  });

  it('needs a record deviation to alert when recordPoints > 0', () => {
    const params = { ...P, recordPoints: 10, baselinePoints: 40 };
    // a spike sets the record; a smaller one later does not alert, a larger one does
    const out = run([...ALTERNATING, 20, 11, 16, 11, 25], params);
    const record = out[20]?.z ?? 0;
    expect(out[20]?.alert).toBe(true);
    expect(out[22]?.bar).toBe(record);
    expect(out[22]?.score).toBeCloseTo((out[22]?.z ?? 0) / ((out[22]?.z ?? 0) + record), 12);
    expect(out[22]?.alert).toBe(false);
    expect(out[24]?.bar).toBe(record);
    expect(out[24]?.alert).toBe(true);
  });

  it('forgets a record after recordPoints scored points', () => {
    const params = { ...P, recordPoints: 3, baselinePoints: 40 };
    const out = run([...ALTERNATING, 20, 11, 12, 11, 16], params);
    // at index 24 the 20 (index 20) is 4 points back: out of a 3-point record
    expect(out[23]?.bar).toBeGreaterThan(3);
    expect(out[24]?.bar).toBe(3);
    expect(out[24]?.alert).toBe(true);
  });

  it('ages the baseline by event time, not by arrival count', () => {
    const params = { ...P, baselineMs: 10 * MINUTE };
    let state = initialSpikeBaselineState();
    for (const p of series(ALTERNATING)) state = spikeBaselineStep(state, p, params).state;
    expect(state.values.length).toBe(11);
    // an hour later the whole window has expired: no history, no score
    const late = spikeBaselineStep(state, { ts: 80 * MINUTE, value: 1000 }, params);
    expect(late.baseline).toBeNull();
    expect(late.state.values).toEqual([1000]);
    // a point that arrives out of order does not rewind the window
    const early = spikeBaselineStep(late.state, { ts: 5 * MINUTE, value: 10 }, params);
    expect(early.state.maxTime).toBe(80 * MINUTE);
  });

  it('never mutates its input state', () => {
    let state: SpikeBaselineState = initialSpikeBaselineState();
    for (const p of series([...ALTERNATING, 50, 11])) {
      const snapshot = structuredClone(state);
      const frozen = deepFreeze(state);
      state = spikeBaselineStep(frozen, p, { ...P, recordPoints: 5, cooldownPoints: 1 }).state;
      expect(frozen).toEqual(snapshot);
    }
  });
});

describe('spikeBaselineScores (properties)', () => {
  const arbSeries = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 0, maxLength: 80 });
  const arbParams = fc.record({
    baselinePoints: fc.integer({ min: 10, max: 40 }),
    baselineMs: fc.option(fc.integer({ min: MINUTE, max: 60 * MINUTE }), { nil: null }),
    minHistory: fc.integer({ min: 3, max: 10 }),
    absFloor: fc.constantFrom(0, 1),
    relFloor: fc.constantFrom(0, 0.15),
    alertZ: fc.constantFrom(1, 3),
    direction: fc.constantFrom('up' as const, 'both' as const),
    recordPoints: fc.integer({ min: 0, max: 30 }),
    cooldownPoints: fc.integer({ min: 0, max: 10 }),
  });

  it('gives one score in [0, 1] per point, the same on a replay', () => {
    fc.assert(
      fc.property(arbSeries, arbParams, (values, params) => {
        const scores = spikeBaselineScores(series(values), params);
        expect(scores).toHaveLength(values.length);
        for (const s of scores) expect(s >= 0 && s <= 1).toBe(true);
        expect(spikeBaselineScores(series(values), params)).toEqual(scores);
      }),
    );
  });

  it('never alerts on a constant series', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 60 }), arbParams, (v, n, params) => {
        expect(spikeBaselineScores(series(Array.from({ length: n }, () => v)), params).every((s) => s === 0)).toBe(true);
      }),
    );
  });
});

describe('spikeBaselineParamsSchema', () => {
  it('accepts the NAB parameters', () => {
    expect(spikeBaselineParamsSchema.parse(SPIKE_BASELINE_NAB_PARAMS)).toEqual(SPIKE_BASELINE_NAB_PARAMS);
  });

  it('rejects a minimum history longer than the baseline, naming the field', () => {
    const r = spikeBaselineParamsSchema.safeParse({ ...P, minHistory: 30 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['minHistory']);
  });
});

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}
