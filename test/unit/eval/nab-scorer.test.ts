import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scoreCorpus } from '../../../src/eval/nab/corpus.ts';
import { nabAnchors, normaliseScore } from '../../../src/eval/nab/normalise.ts';
import type { CostMatrix } from '../../../src/eval/nab/profiles.ts';
import { MAX_TP_SIGMOID, scaledSigmoid } from '../../../src/eval/nab/sigmoid.ts';
import { sweepFile } from '../../../src/eval/nab/sweep.ts';
import { optimiseThreshold, scoreAtThreshold, scoresByThreshold } from '../../../src/eval/nab/threshold.ts';
import { probationLength, windowsToIndices, type IndexWindow } from '../../../src/eval/nab/windows.ts';

/*
 * Expected values are computed by hand with the identity 2·σ(y) − 1 = tanh(y/2), so
 * scaledSigmoid(x) = tanh(−2.5·x): an independent route from the implementation's exp().
 */
const S = (x: number): number => Math.tanh(-2.5 * x);
const STANDARD: CostMatrix = { tpWeight: 1, fpWeight: 0.11, fnWeight: 1, tnWeight: 1 };
const LOW_FN: CostMatrix = { tpWeight: 1, fpWeight: 0.11, fnWeight: 2, tnWeight: 1 };

/**
 * Fixture: 20 rows, probation floor(0.15 · 20) = 3 rows (0–2), one window on rows 8–11 (width 4)
 * and one on rows 15–16 (width 2).
 */
const N = 20;
const WINDOWS: IndexWindow[] = [
  { start: 8, end: 11 },
  { start: 15, end: 16 },
];
const scoresWith = (detections: Record<number, number>): number[] => Array.from({ length: N }, (_, i) => detections[i] ?? 0);

describe('scaledSigmoid', () => {
  it.each([
    [-1, Math.tanh(2.5)],
    [-0.5, Math.tanh(1.25)],
    [0, 0],
    [0.25, -Math.tanh(0.625)],
    [1, -Math.tanh(2.5)],
    [3, -Math.tanh(7.5)],
    [3.0001, -1],
    [50, -1],
  ])('at %f is %f', (x, expected) => {
    expect(scaledSigmoid(x)).toBeCloseTo(expected, 12);
  });

  it('is 0.98661 at the left edge of a window (NAB docstring)', () => {
    expect(MAX_TP_SIGMOID).toBeCloseTo(0.98661, 5);
  });
});

describe('probationLength', () => {
  it.each([
    [0, 0],
    [20, 3],
    [100, 15],
    [4999, 749],
    [5000, 750],
    [22695, 750],
  ])('%i rows → %i', (rows, expected) => {
    expect(probationLength(rows)).toBe(expected);
  });
});

describe('windowsToIndices', () => {
  const ts = [100, 200, 300, 400, 500, 600];
  it('maps limits to inclusive row indices', () => {
    expect(windowsToIndices('f', ts, [[200, 300], [500, 600]])).toEqual([
      { start: 1, end: 2 },
      { start: 4, end: 5 },
    ]);
  });
  it.each([
    ['a limit that is not a row', [[250, 300]]],
    ['an end before its start', [[400, 200]]],
    ['overlapping windows', [[100, 300], [300, 400]]],
    ['windows out of order', [[400, 500], [100, 200]]],
  ] as const)('rejects %s', (_, limits) => {
    expect(() => windowsToIndices('f.csv', ts, limits)).toThrow(/f\.csv/);
  });
});

describe('sweepFile', () => {
  const rows = sweepFile('f', scoresWith({}), WINDOWS, STANDARD);

  it('marks the probation rows and the window rows', () => {
    expect(rows.map((r) => r.probation)).toEqual(Array.from({ length: N }, (_, i) => i < 3));
    expect(rows.map((r) => r.window)).toEqual(
      Array.from({ length: N }, (_, i) => (i >= 8 && i <= 11 ? 'f#0' : i >= 15 && i <= 16 ? 'f#1' : null)),
    );
  });

  it.each([
    // before any window: −fpWeight
    [0, -0.11],
    [7, -0.11],
    // in the 4-row window ending at 11: tp · S(−(11 − i + 1)/4) / S(−1)
    [8, 1],
    [9, S(-3 / 4) / S(-1)],
    [10, S(-2 / 4) / S(-1)],
    [11, S(-1 / 4) / S(-1)],
    // after it: fp · S(|i − 11| / (4 − 1))
    [12, 0.11 * S(1 / 3)],
    [14, 0.11 * S(3 / 3)],
    // in the 2-row window ending at 16
    [15, 1],
    [16, S(-1 / 2) / S(-1)],
    // after it: fp · S(|i − 16| / (2 − 1)); exactly 3 widths is still on the curve
    [17, 0.11 * S(1)],
    [19, 0.11 * S(3)],
  ])('row %i is worth %f', (i, expected) => {
    expect(rows[i]?.sweepScore).toBeCloseTo(expected, 12);
  });

  it('penalises fully after a one-row window (where NAB would divide by zero)', () => {
    const one = sweepFile('g', scoresWith({}), [{ start: 10, end: 10 }], STANDARD);
    expect(one[10]?.sweepScore).toBeCloseTo(1, 12);
    expect(one[11]?.sweepScore).toBeCloseTo(-0.11, 12);
  });
});

describe('scoreAtThreshold', () => {
  // Detections (score 0.9): row 1 (probation, ignored), row 5 (FP before any window),
  // rows 9 and 10 (only the earlier counts), row 13 (FP just after window 0). Window 1 missed.
  const scores = scoresWith({ 1: 0.9, 5: 0.9, 9: 0.9, 10: 0.9, 13: 0.9 });

  it('scores the standard profile by hand', () => {
    const s = scoreAtThreshold(sweepFile('f', scores, WINDOWS, STANDARD), 0.5, STANDARD.fnWeight);
    const expected = -0.11 + S(-3 / 4) / S(-1) + 0.11 * S(2 / 3) - 1;
    expect(s.score).toBeCloseTo(expected, 12);
    expect({ tp: s.tp, fp: s.fp, fn: s.fn, tn: s.tn, total: s.total, detectedWindows: s.detectedWindows }).toEqual({
      tp: 2,
      fp: 2,
      fn: 4,
      tn: 9,
      total: 17,
      detectedWindows: 1,
    });
  });

  it('doubles the missed window under reward_low_FN_rate', () => {
    const s = scoreAtThreshold(sweepFile('f', scores, WINDOWS, LOW_FN), 0.5, LOW_FN.fnWeight);
    expect(s.score).toBeCloseTo(-0.11 + S(-3 / 4) / S(-1) + 0.11 * S(2 / 3) - 2, 12);
  });

  it('counts a score equal to the threshold as a detection', () => {
    const rows = sweepFile('f', scoresWith({ 8: 0.5 }), WINDOWS, STANDARD);
    expect(scoreAtThreshold(rows, 0.5, 1).score).toBeCloseTo(1 - 1, 12);
    expect(scoreAtThreshold(rows, 0.5000001, 1).score).toBeCloseTo(-2, 12);
  });
});

describe('scoresByThreshold and optimiseThreshold', () => {
  it('starts at 1.1 with the null score and steps down through each distinct score', () => {
    const rows = sweepFile('f', scoresWith({ 8: 0.8, 15: 0.8, 5: 0.6 }), WINDOWS, STANDARD);
    const all = scoresByThreshold(rows, 1);
    expect(all.map((s) => s.threshold)).toEqual([1.1, 0.8, 0.6, 0]);
    expect(all[0]?.score).toBeCloseTo(-2, 12);
    expect(all[1]?.score).toBeCloseTo(2, 12);
    expect(all[2]?.score).toBeCloseTo(2 - 0.11, 12);
  });

  it('picks the best threshold, the highest one among ties', () => {
    // 0.7 and 0.6 both catch both windows first; 0.6 adds nothing, so 0.7 wins the tie.
    const rows = sweepFile('f', scoresWith({ 8: 0.9, 15: 0.7, 16: 0.6 }), WINDOWS, STANDARD);
    const best = optimiseThreshold(rows, 1);
    expect(best.threshold).toBe(0.7);
    expect(best.score).toBeCloseTo(2, 12);
  });

  it('agrees with scoreAtThreshold at every swept threshold (property)', () => {
    const fixture = fc
      .record({
        scores: fc.array(fc.integer({ min: 0, max: 10 }).map((k) => k / 10), { minLength: 30, maxLength: 60 }),
        cuts: fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { minLength: 0, maxLength: 6 }),
      })
      .map(({ scores, cuts }) => {
        const sorted = cuts.filter((c) => c < scores.length).sort((a, b) => a - b);
        const windows: IndexWindow[] = [];
        for (let k = 0; k + 1 < sorted.length; k += 2) windows.push({ start: sorted[k] ?? 0, end: sorted[k + 1] ?? 0 });
        return { scores, windows };
      });
    fc.assert(
      fc.property(fixture, fc.constantFrom(STANDARD, LOW_FN), ({ scores, windows }, cost) => {
        const rows = sweepFile('p', scores, windows, cost);
        for (const s of scoresByThreshold(rows, cost.fnWeight)) {
          const direct = scoreAtThreshold(rows, s.threshold, cost.fnWeight);
          expect(direct.score).toBeCloseTo(s.score, 9);
          expect([direct.tp, direct.tn, direct.fp, direct.fn, direct.detectedWindows]).toEqual([s.tp, s.tn, s.fp, s.fn, s.detectedWindows]);
        }
      }),
    );
  });
});

describe('normalisation', () => {
  it('maps null to 0 and perfect to 100', () => {
    const anchors = nabAnchors(116, STANDARD);
    expect(anchors).toEqual({ null: -116, perfect: 116 });
    expect(normaliseScore(-116, anchors)).toBe(0);
    expect(normaliseScore(116, anchors)).toBe(100);
    expect(normaliseScore(0, anchors)).toBe(50);
  });

  it('uses 2 × fn for the null anchor under reward_low_FN_rate', () => {
    const anchors = nabAnchors(116, LOW_FN);
    expect(anchors).toEqual({ null: -232, perfect: 116 });
    expect(normaliseScore(0, anchors)).toBeCloseTo((100 * 232) / 348, 12);
  });

  it('refuses a corpus without windows', () => {
    expect(() => normaliseScore(0, nabAnchors(0, STANDARD))).toThrow(/no windows/);
  });
});

describe('scoreCorpus', () => {
  const other = { name: 'b.csv', anomalyScores: Array.from({ length: 40 }, () => 0), windows: [{ start: 20, end: 29 }] };

  it('scores a perfect detector 100 and the null detector 0', () => {
    const perfect = [
      { name: 'a.csv', anomalyScores: scoresWith({ 8: 1, 15: 1 }), windows: WINDOWS },
      { ...other, anomalyScores: other.anomalyScores.map((_, i) => (i === 20 ? 1 : 0)) },
    ];
    expect(scoreCorpus(perfect, STANDARD, 0.5).normalised).toBeCloseTo(100, 9);
    expect(scoreCorpus(perfect, STANDARD, 1.01).normalised).toBeCloseTo(0, 9);
  });

  it('sums per-file scores and optimises one threshold for the whole corpus', () => {
    // File a: a 0.9 hit on the first row of each window, a 0.6 FP on row 5.
    // File b: a 0.6 hit on its window's first row. At 0.6: 3 windows − 0.11; at 0.9: 2 − 1.
    const files = [
      { name: 'a.csv', anomalyScores: scoresWith({ 8: 0.9, 15: 0.9, 5: 0.6 }), windows: WINDOWS },
      { ...other, anomalyScores: other.anomalyScores.map((_, i) => (i === 20 ? 0.6 : 0)) },
    ];
    const s = scoreCorpus(files, STANDARD);
    expect(s.threshold).toBe(0.6);
    expect(s.raw).toBeCloseTo(3 - 0.11, 12);
    expect(s.files.map((f) => f.score.score)).toEqual([expect.closeTo(2 - 0.11, 12), expect.closeTo(1, 12)]);
    expect(s.normalised).toBeCloseTo((100 * (3 - 0.11 + 3)) / 6, 9);
    expect(s.totals).toMatchObject({ tp: 3, fp: 1, detectedWindows: 3 });
  });
});
