import { describe, expect, it } from 'vitest';
import {
  initialJudgeDriftState,
  judgeDrift,
  JUDGE_DRIFT_DEFAULTS,
  judgeDriftTests,
  perTestAlpha,
  type DriftTest,
  type JudgeDriftParams,
  type JudgeDriftState,
} from '../../../detectors/judge-drift.ts';
import { benjaminiHochberg, bonferroni } from '../../../detectors/lib/multiple-testing.ts';
import { MINUTE_MS } from '../../../src/windows/cohort-partial.ts';
import { draws, judgePartial, T0 } from '../windows/cohort-sim.ts';

/**
 * False-alarm control measured on simulated fleets (fixed seeds). One fleet = COHORTS lineages
 * tested in the same round; half switch version halfway (same score distribution), so all three
 * tests run. Each fleet's last round is one independent draw of "does the fleet raise any
 * alarm", so the share of fleets with an alarm estimates the family-wise error rate.
 */
const COHORTS = 60;
const FLEETS = 120;
const HOURS = 30;
const ALPHA = 0.05;
const params: JudgeDriftParams = {
  ...JUDGE_DRIFT_DEFAULTS,
  recent_minutes: 360,
  reference_minutes: 720,
  anchor_minutes: 720,
  // Tests are computed below with judgeDriftTests at the last hour; skip the detector's own rounds.
  evaluate_every_minutes: 1440,
  alpha: ALPHA,
  family_size: COHORTS,
};
const HOUR = 60 * MINUTE_MS;

/** The tests of the fleet's last round; cohorts in `drifting` drop by 0.1 over the last 6 hours. */
function fleetRound(seed: number, drifting: ReadonlySet<number> = new Set()): { tests: DriftTest[]; truth: boolean[] } {
  const d = draws(seed);
  const tests: DriftTest[] = [];
  const truth: boolean[] = [];
  for (let c = 0; c < COHORTS; c++) {
    let s: JudgeDriftState = initialJudgeDriftState({ agent_id: `a${c}` });
    for (let h = 0; h < HOURS; h++) {
      const version = c % 2 === 0 && h >= HOURS / 2 ? 'v2' : 'v1';
      const mean = drifting.has(c) && h >= HOURS - 6 ? 0.7 : 0.8;
      const scores = Array.from({ length: 10 }, () => Math.min(1, Math.max(0, mean + 0.1 * d.normal())));
      const p = judgePartial({ agent_id: `a${c}`, model_version: version, prompt_hash: 'p' }, T0 + h * HOUR + 1000, scores);
      s = judgeDrift(s, p, { params, now: p.last_ts }).state;
    }
    const minute = Math.floor((T0 + (HOURS - 1) * HOUR) / MINUTE_MS);
    for (const v of s.versions) {
      for (const t of judgeDriftTests(v, minute, params)) {
        tests.push(t);
        // Every test of a drifting cohort compares post-drop scores with pre-drop ones.
        truth.push(drifting.has(c));
      }
    }
  }
  return { tests, truth };
}

describe('judge-drift: false alarms across many cohorts tested at once', () => {
  const rounds = Array.from({ length: FLEETS }, (_, f) => fleetRound(1000 + f));

  it('each round tests at most family_size × 3 (version, rule) pairs', () => {
    for (const r of rounds) expect(r.tests.length).toBeLessThanOrEqual(COHORTS * 3);
    expect(rounds[0]!.tests.map((t) => t.rule)).toEqual(expect.arrayContaining(['version_drop', 'recent_drop', 'decline']));
  });

  it('null data: Bonferroni keeps the family-wise false-alarm rate at α; uncorrected tests do not', () => {
    const anyAlarm = (level: number) => rounds.filter((r) => r.tests.some((t) => t.welch.p <= level)).length / FLEETS;
    const corrected = anyAlarm(perTestAlpha(params));
    const uncorrected = anyAlarm(ALPHA);
    // Binomial slack: 2 standard errors of a rate α over FLEETS independent fleets.
    expect(corrected).toBeLessThanOrEqual(ALPHA + 2 * Math.sqrt((ALPHA * (1 - ALPHA)) / FLEETS));
    expect(uncorrected).toBeGreaterThan(0.9);
    // Same through the library helper.
    const viaHelper = rounds.filter((r) => bonferroni(r.tests.map((t) => t.welch.p), ALPHA, COHORTS * 3).some(Boolean)).length / FLEETS;
    expect(viaHelper).toBe(corrected);
  });

  it('null data: Benjamini–Hochberg keeps the false-discovery rate (= family-wise rate here) at q', () => {
    const rate = rounds.filter((r) => benjaminiHochberg(r.tests.map((t) => t.welch.p), ALPHA).some(Boolean)).length / FLEETS;
    expect(rate).toBeLessThanOrEqual(ALPHA + 2 * Math.sqrt((ALPHA * (1 - ALPHA)) / FLEETS));
  });

  it('with 6 of 60 cohorts truly drifting: both find them, and the share of false alarms stays under q', () => {
    const drifting = new Set([3, 11, 20, 29, 41, 52]);
    const mixed = Array.from({ length: 40 }, (_, f) => fleetRound(5000 + f, drifting));
    let fdp = 0;
    let found = 0;
    let bonferroniFound = 0;
    for (const { tests, truth } of mixed) {
      const ps = tests.map((t) => t.welch.p);
      const bh = benjaminiHochberg(ps, ALPHA);
      const rejected = bh.filter(Boolean).length;
      const falseOnes = bh.filter((r, i) => r && !truth[i]).length;
      fdp += rejected === 0 ? 0 : falseOnes / rejected;
      found += tests.filter((t, i) => bh[i] && truth[i] && t.rule === 'recent_drop').length;
      bonferroniFound += tests.filter((t, i) => t.welch.p <= perTestAlpha(params) && truth[i] && t.rule === 'recent_drop').length;
    }
    expect(fdp / mixed.length).toBeLessThanOrEqual(ALPHA);
    // Power: the recent-window drop of 0.1 (60 vs 120 scores) is found almost always.
    expect(found / (mixed.length * drifting.size)).toBeGreaterThan(0.9);
    expect(bonferroniFound).toBeLessThanOrEqual(found);
  });
});
