import { describe, expect, it } from 'vitest';
import {
  initialJudgeDriftState,
  judgeDrift,
  JUDGE_DRIFT_DEFAULTS,
  judgeDriftParamIssues,
  judgeDriftParamsSchema,
  judgeDriftStateIdle,
  judgeLineage,
  perTestAlpha,
  type JudgeDriftParams,
  type JudgeDriftState,
} from '../../../detectors/judge-drift.ts';
import { findingSchema, type Finding } from '../../../src/contracts/finding.ts';
import { commandForFinding } from '../../../src/control/commands.ts';
import { COMMANDS_DEFAULTS } from '../../../src/policy/policy-schema.ts';
import { cohortKey } from '../../../src/windows/cohort-key.ts';
import { MINUTE_MS, type CohortPartial } from '../../../src/windows/cohort-partial.ts';
import { draws, judgePartial, T0 } from '../windows/cohort-sim.ts';

const P = JUDGE_DRIFT_DEFAULTS;
const HOUR = 60 * MINUTE_MS;

/** Scores ~ N(mean, sd) clipped to [0, 1]. */
function scorer(seed: number) {
  const d = draws(seed);
  return (n: number, mean: number, sd: number) => Array.from({ length: n }, () => Math.min(1, Math.max(0, mean + sd * d.normal())));
}

/** Hourly judge partials of one cohort from `fromHour` to `toHour` (exclusive); `mean(h)` per hour. */
function hourly(cohort: Record<string, string>, fromHour: number, toHour: number, perHour: number, mean: (h: number) => number, seed: number, sd = 0.1): CohortPartial[] {
  const score = scorer(seed);
  const out: CohortPartial[] = [];
  for (let h = fromHour; h < toHour; h++) out.push(judgePartial(cohort, T0 + h * HOUR + 30 * MINUTE_MS, score(perHour, mean(h), sd)));
  return out;
}

interface Fired {
  finding: Finding;
  hour: number;
}

/** Drives one state per lineage (the cohort stage's keying), partials in time order. */
function drive(partials: readonly CohortPartial[], params: JudgeDriftParams = P, checkpoint = false) {
  const states = new Map<string, JudgeDriftState>();
  const fired: Fired[] = [];
  for (const p of [...partials].sort((a, b) => a.last_ts - b.last_ts)) {
    const lineage = judgeLineage(p.cohort, params);
    const key = cohortKey(lineage);
    let s = states.get(key) ?? initialJudgeDriftState(lineage);
    if (checkpoint) s = JSON.parse(JSON.stringify(s)) as JudgeDriftState;
    const r = judgeDrift(s, p, { params, now: p.last_ts });
    states.set(key, r.state);
    for (const finding of r.findings) fired.push({ finding, hour: (finding.ts - T0) / HOUR });
  }
  return { fired, states };
}

const V1 = { agent_id: 'bot', model_version: 'v1', prompt_hash: 'p1' };
const V2 = { agent_id: 'bot', model_version: 'v2', prompt_hash: 'p1' };

describe('judge-drift params', () => {
  it('defaults validate; cross-field issues name the field', () => {
    expect(judgeDriftParamsSchema.parse(P)).toEqual(P);
    expect(judgeDriftParamIssues(P)).toEqual([]);
    expect(judgeDriftParamIssues({ ...P, recent_minutes: 90 }).map((i) => i.path)).toEqual(['recent_minutes']);
    expect(judgeDriftParamsSchema.safeParse({ ...P, version_dims: [] }).success).toBe(false);
    expect(judgeDriftParamsSchema.safeParse({ ...P, alpha: 0 }).success).toBe(false);
  });

  it('splits alpha over the family (Bonferroni)', () => {
    expect(perTestAlpha(P)).toBeCloseTo(0.05 / 300, 12);
  });
});

describe('judge-drift: a new version against the one it replaced', () => {
  it.each([
    { name: 'drop 0.1, n = 30 each side', before: 30, after: 30, drop: 0.1, fires: true },
    { name: 'drop 0.1, n = 60 each side', before: 60, after: 60, drop: 0.1, fires: true },
    { name: 'drop 0.1 but only 20 new scores', before: 60, after: 20, drop: 0.1, fires: false },
    { name: 'a 0.01 shift, even with 5000 each side', before: 5000, after: 5000, drop: 0.01, fires: false },
    { name: 'no change', before: 500, after: 500, drop: 0, fires: false },
  ])('$name', ({ before, after, drop, fires }) => {
    // The predecessor's scores spread over its last 10 hours, the new version's over 5 hours.
    const partials = [
      ...hourly(V1, 0, 10, before / 10, () => 0.8, 1, 0.08),
      ...hourly(V2, 10, 15, after / 5, () => 0.8 - drop, 2, 0.08),
    ];
    const { fired } = drive(partials);
    const drops = fired.filter((f) => f.finding.rule === 'version_drop');
    expect(drops.length).toBe(fires ? 1 : 0);
    expect(fired.filter((f) => f.finding.rule !== 'version_drop')).toEqual([]);
    if (fires) {
      const f = drops[0]!.finding;
      expect(findingSchema.safeParse(f).success).toBe(true);
      expect(f).toMatchObject({
        detector: 'judge-drift',
        severity: 'warning',
        scope: { kind: 'cohort', id: cohortKey(V2) },
        cohort: V2,
        details: { version: 'model_version=v2,prompt_hash=p1', predecessor: 'model_version=v1,prompt_hash=p1', test: 'welch_t_one_sided' },
      });
      expect(f.details?.['p_value']).toBeLessThanOrEqual(perTestAlpha(P));
      expect(f.observed).toBeLessThan(f.baseline!);
      // A finding only, no command (not even a warn), unless the canary throttle is on.
      expect(f.details?.['action']).toBe('none');
      expect(commandForFinding(f, { commands: COMMANDS_DEFAULTS })).toBeNull();
    }
  });

  it('optionally throttles the canary cohort', () => {
    const params = { ...P, canary_throttle: true, canary_max_llm_calls_per_minute: 5, canary_delay_ms: 250 };
    const partials = [...hourly(V1, 0, 10, 6, () => 0.8, 1, 0.08), ...hourly(V2, 10, 15, 12, () => 0.65, 2, 0.08)];
    const f = drive(partials, params).fired[0]!.finding;
    expect(f.details).toMatchObject({ action: 'throttle', throttle: { max_llm_calls_per_minute: 5, delay_ms: 250 } });
    expect(commandForFinding(f, { commands: COMMANDS_DEFAULTS })).toMatchObject({ action: 'throttle', scope: { kind: 'cohort', id: cohortKey(V2) }, throttle: { max_llm_calls_per_minute: 5 } });
  });

  it('a version seen after the predecessor gap has no predecessor', () => {
    const partials = [...hourly(V1, 0, 10, 10, () => 0.8, 1), ...hourly(V2, 60, 70, 10, () => 0.6, 2)];
    expect(drive(partials).fired).toEqual([]);
  });

  it('remembers at most max_versions versions per lineage', () => {
    const partials = Array.from({ length: 12 }, (_, i) => hourly({ agent_id: 'bot', model_version: `v${i}`, prompt_hash: 'p' }, i, i + 1, 5, () => 0.8, i)).flat();
    const { states } = drive(partials, { ...P, max_versions: 4 });
    expect([...states.values()][0]!.versions.map((v) => v.key)).toEqual(['v8', 'v9', 'v10', 'v11'].map((m) => `model_version=${m},prompt_hash=p`));
  });
});

describe('judge-drift: slow decline and drift within a version', () => {
  it('5 % over two weeks fires a decline against the version’s first days, not in its first week', () => {
    const partials = hourly(V1, 0, 14 * 24, 20, (h) => 0.8 - (0.04 * h) / (14 * 24), 3);
    const { fired } = drive(partials);
    const declines = fired.filter((f) => f.finding.rule === 'decline');
    expect(declines).toHaveLength(1);
    expect(declines[0]!.hour).toBeGreaterThan(7 * 24);
    expect(declines[0]!.hour).toBeLessThan(14 * 24);
    // The recent window may also sit measurably below the week before it (a true drop too).
    expect(fired.every((f) => f.finding.rule === 'decline' || f.finding.rule === 'recent_drop')).toBe(true);
    expect(fired.every((f) => f.hour > 3 * 24)).toBe(true);
  });

  it('a decline of 0.06 over 12 hours after a stable week fires within a day', () => {
    const start = 8 * 24;
    const partials = hourly(V1, 0, start + 36, 20, (h) => (h < start ? 0.8 : 0.8 - 0.06 * Math.min(1, (h - start) / 12)), 4);
    const { fired } = drive(partials);
    expect(fired.length).toBeGreaterThanOrEqual(1);
    expect(fired[0]!.hour).toBeGreaterThan(start);
    expect(fired[0]!.hour).toBeLessThan(start + 24);
  });

  it('a drop confined to one segment fires for that segment only', () => {
    const segments = ['free', 'pro', 'team', 'enterprise'];
    const start = 8 * 24;
    const partials = segments.flatMap((tier, i) => [
      // Segment lineages: agent × plan_tier, versioned by model_version × prompt_hash.
      ...hourly({ ...V1, plan_tier: tier }, 0, start + 12, 10, (h) => (tier === 'free' && h >= start ? 0.7 : 0.8), 10 + i, 0.08),
    ]);
    // The unsegmented lineage sees the mix: a 0.025 drop diluted over four segments.
    const mixed = hourly(V1, 0, start + 12, 40, (h) => (h >= start ? 0.775 : 0.8), 20, 0.09);
    const { fired } = drive([...partials, ...mixed]);
    const bySegment = fired.map((f) => f.finding.cohort?.['plan_tier'] ?? 'all');
    expect(bySegment).toContain('free');
    expect(bySegment.filter((s) => s !== 'free' && s !== 'all')).toEqual([]);
    const first = fired.find((f) => f.finding.cohort?.['plan_tier'] === 'free')!;
    expect(first.finding.scope.id).toBe(cohortKey({ ...V1, plan_tier: 'free' }));
    expect(first.hour).toBeLessThan(start + 6);
  });

  it('one finding per episode, re-armed once the scores are back', () => {
    const params = { ...P, recent_minutes: 120, reference_minutes: 1440, anchor_minutes: 10_080 * 4 };
    const level = (h: number) => (h >= 48 && h < 60 ? 0.65 : h >= 96 && h < 108 ? 0.65 : 0.8);
    const { fired } = drive(hourly(V1, 0, 120, 30, level, 5, 0.08), params);
    expect(fired.map((f) => [f.finding.rule, Math.floor(f.hour / 48)])).toEqual([
      ['recent_drop', 1],
      ['recent_drop', 2],
    ]);
    expect(new Set(fired.map((f) => f.finding.finding_id)).size).toBe(2);
  });

  it('is deterministic and survives a JSON checkpoint before every partial', () => {
    const partials = [...hourly(V1, 0, 30, 8, () => 0.8, 1, 0.08), ...hourly(V2, 30, 40, 8, () => 0.68, 2, 0.08)];
    const a = drive(partials);
    const b = drive(partials, P, true);
    expect(a.fired.length).toBeGreaterThan(0);
    expect(b.fired).toEqual(a.fired);
    expect([...b.states.values()]).toEqual([...a.states.values()]);
  });

  it.each([1, 2, 3])('a stable cohort stays quiet for four days (seed %i)', (seed) => {
    expect(drive(hourly(V1, 0, 96, 20, () => 0.8, 100 + seed)).fired).toEqual([]);
  });

  it('constant scores never fire', () => {
    expect(drive(hourly(V1, 0, 96, 20, () => 0.8, 1, 0)).fired).toEqual([]);
  });

  it('is idle (droppable) once no version has been seen for longer than its windows', () => {
    const { states } = drive(hourly(V1, 0, 10, 5, () => 0.8, 1));
    const s = [...states.values()][0]!;
    const last = s.versions[0]!.last_minute;
    const reach = P.recent_minutes + P.reference_minutes + P.anchor_minutes;
    expect(judgeDriftStateIdle(s, last + reach, P)).toBe(false);
    expect(judgeDriftStateIdle(s, last + reach + 1, P)).toBe(true);
  });

  it('ignores other views and does nothing when disabled', () => {
    const partials = [...hourly(V1, 0, 10, 6, () => 0.8, 1, 0.08), ...hourly(V2, 10, 15, 12, () => 0.6, 2, 0.08)];
    expect(drive(partials, { ...P, enabled: false }).fired).toEqual([]);
    const s = initialJudgeDriftState({ agent_id: 'bot' });
    const spend = { ...partials[0]!, view: 'spend' as const };
    expect(judgeDrift(s, spend, { params: P, now: spend.last_ts }).state).toBe(s);
  });
});
