import type { IncidentKind } from '../../sim/ground-truth.ts';
import type { IncidentOutcome, RuleTally, ScenarioScore, TrafficUnit } from './score.ts';

/** Recall of a group of incidents; delays in event-time seconds (nearest rank). */
export interface RecallFigures {
  incidents: number;
  detected: number;
  /** detected / incidents; null for an empty group. */
  recall: number | null;
  delay_s: { median: number | null; p90: number | null; max: number | null };
}

export interface MagnitudeFigures extends RecallFigures {
  /** The incidents of this magnitude above the detector's floor (see KindSummary.above_floor). */
  above_floor?: RecallFigures;
}

export interface KindSummary extends RecallFigures {
  /** Not detected on the incident's cohort, but an expected rule fired on a coarser consistent one. */
  coarse_only: number;
  /** Recall of each expected rule alone. */
  rule_recall: Record<string, number>;
  by_magnitude: Record<string, MagnitudeFigures>;
  /** Incidents split by the detector's absolute floor (magnitude × baseline vs floor; see ScoreOptions.floors). */
  above_floor?: RecallFigures;
  below_floor?: RecallFigures;
}

export interface RuleSummary {
  unit: TrafficUnit;
  findings: number;
  detections: number;
  related: number;
  false_alarms: number;
  quiet_unit_days: number;
  /** false_alarms / quiet_unit_days; null without quiet traffic. */
  false_alarms_per_unit_day: number | null;
}

export interface SimQuality {
  scenarios: number;
  days: number;
  incidents: number;
  by_kind: Partial<Record<IncidentKind, KindSummary>>;
  by_rule: Record<string, RuleSummary>;
  unscored: Record<string, number>;
}

/** Nearest-rank quantile of an ascending array (every figure is an observed value). */
function rank(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1] as number;
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

export function recallOf(outcomes: readonly IncidentOutcome[]): RecallFigures {
  const delays = outcomes.flatMap((o) => (o.first ? [o.first.delay_ms / 1000] : [])).sort((a, b) => a - b);
  return {
    incidents: outcomes.length,
    detected: delays.length,
    recall: outcomes.length ? round(delays.length / outcomes.length) : null,
    delay_s: { median: rank(delays, 0.5), p90: rank(delays, 0.9), max: rank(delays, 1) },
  };
}

function magnitudeOf(outcomes: readonly IncidentOutcome[]): MagnitudeFigures {
  const figures: MagnitudeFigures = recallOf(outcomes);
  if (outcomes.some((o) => o.above_floor !== undefined)) figures.above_floor = recallOf(outcomes.filter((o) => o.above_floor === true));
  return figures;
}

/** Pools the scores of several fleets: incidents are concatenated, rule tallies and unit-days summed. */
export function summarise(scores: readonly ScenarioScore[]): SimQuality {
  const outcomes = scores.flatMap((s) => s.incidents);
  const byKind: Partial<Record<IncidentKind, KindSummary>> = {};
  for (const kind of [...new Set(outcomes.map((o) => o.kind))]) {
    const own = outcomes.filter((o) => o.kind === kind);
    const rules = [...new Set(own.flatMap((o) => Object.keys(o.by_rule)))].sort();
    const magnitudes = [...new Set(own.map((o) => o.magnitude))].sort((a, b) => a - b);
    const summary: KindSummary = {
      ...recallOf(own),
      coarse_only: own.filter((o) => !o.first && o.coarse).length,
      rule_recall: Object.fromEntries(rules.map((r) => [r, round(own.filter((o) => o.by_rule[r]).length / own.length)])),
      by_magnitude: Object.fromEntries(magnitudes.map((m) => [String(m), magnitudeOf(own.filter((o) => o.magnitude === m))])),
    };
    if (own.some((o) => o.above_floor !== undefined)) {
      summary.above_floor = recallOf(own.filter((o) => o.above_floor === true));
      summary.below_floor = recallOf(own.filter((o) => o.above_floor === false));
    }
    byKind[kind] = summary;
  }
  const byRule: Record<string, RuleSummary> = {};
  for (const s of scores) {
    for (const [key, t] of Object.entries(s.rules)) {
      const r = (byRule[key] ??= { unit: t.unit, findings: 0, detections: 0, related: 0, false_alarms: 0, quiet_unit_days: 0, false_alarms_per_unit_day: null });
      for (const f of ['findings', 'detections', 'related', 'false_alarms', 'quiet_unit_days'] as const satisfies readonly (keyof RuleTally)[]) r[f] += t[f];
    }
  }
  for (const r of Object.values(byRule)) {
    r.quiet_unit_days = round(r.quiet_unit_days);
    r.false_alarms_per_unit_day = r.quiet_unit_days > 0 ? round(r.false_alarms / r.quiet_unit_days) : null;
  }
  const unscored: Record<string, number> = {};
  for (const s of scores) for (const [k, n] of Object.entries(s.unscored)) unscored[k] = (unscored[k] ?? 0) + n;
  return { scenarios: scores.length, days: round(scores.reduce((n, s) => n + s.days, 0)), incidents: outcomes.length, by_kind: byKind, by_rule: byRule, unscored };
}
