import type { Finding } from '../../contracts/finding.ts';
import type { GroundTruth, Incident, IncidentKind, SimCohort } from '../../sim/ground-truth.ts';
import { consistent, covers, findingDims, inWindow, type Dims } from './match.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The cohort detectors this scorer judges; findings of the per-run ones are only counted. */
export const SCORED_DETECTORS = ['cost-spike', 'judge-drift'] as const;
type ScoredDetector = (typeof SCORED_DETECTORS)[number];

/** What one quiet unit of traffic is, for false alarms per unit-day. */
export type TrafficUnit = 'spend_cohort' | 'user' | 'agent';

/**
 * The unit each rule watches: spend rules a tenant × agent × user × model cohort, the LLM-rate
 * rule a user, the run-token rule and the judge rules an agent (a judge lineage is the agent or
 * one of its segments; segments are parts of the agent's traffic, so agent-days count them once).
 */
export function ruleUnit(detector: string, rule: string): TrafficUnit {
  if (detector === 'cost-spike') return rule === 'llm_rate' ? 'user' : rule === 'run_tokens_p99' ? 'agent' : 'spend_cohort';
  return 'agent';
}

/** Late detections still count until an incident's end + this (ms): a spend episode is judged per minute, judge drift every 15 min on hourly buckets. */
export const DEFAULT_TOLERANCE_MS: Readonly<Record<ScoredDetector, number>> = { 'cost-spike': 5 * MINUTE_MS, 'judge-drift': 120 * MINUTE_MS };

export interface ScoreOptions {
  toleranceMs?: Partial<Record<ScoredDetector, number>>;
  /**
   * The detectors' absolute floors, keyed by the incident detail that holds the cohort's baseline
   * per minute, e.g. `{baseline_usd_per_minute: 1, baseline_llm_calls_per_minute: 30}`. An
   * incident whose level during the incident (magnitude × baseline) stays below the floor is
   * reported apart: no setting of the statistical thresholds can catch it.
   */
  floors?: Readonly<Record<string, number>>;
  /** Rules to list even when no finding names them (e.g. every rule of the scored detectors). */
  rules?: readonly string[];
}

/** A detection: the first finding of a rule that matches the incident. */
export interface Detection {
  rule: string;
  ts: number;
  delay_ms: number;
}

export interface IncidentOutcome {
  id: string;
  kind: IncidentKind;
  magnitude: number;
  start_ts: number;
  end_ts: number;
  /** First matching finding of an expected rule on the incident's cohort (or a finer one). */
  first: Detection | null;
  /** First matching finding of each expected rule. */
  by_rule: Record<string, Detection>;
  /** First finding of an expected rule on a coarser, consistent cohort (the agent's whole lineage for a segment drop). */
  coarse: Detection | null;
  /** Incidents with a baseline in `floors`: magnitude × baseline reaches the floor; undefined otherwise. */
  above_floor?: boolean;
}

export interface RuleTally {
  unit: TrafficUnit;
  findings: number;
  /** Findings that detect an incident (several may detect the same one). */
  detections: number;
  /** Findings that an incident explains without being a detection of it (another rule, a coarser or neighbouring cohort). */
  related: number;
  false_alarms: number;
  /** Unit-days of traffic outside every incident (+ tolerance) the unit is consistent with. */
  quiet_unit_days: number;
}

/** A false alarm, enough to judge it: where, when, and how far past its threshold. */
export interface FindingBrief {
  ts: number;
  rule: string;
  scope: string;
  cohort?: Record<string, string>;
  observed: number;
  threshold: number;
}

export interface ScenarioScore {
  seed: number;
  days: number;
  incidents: IncidentOutcome[];
  /** By `detector/rule`. */
  rules: Record<string, RuleTally>;
  /** Findings of the detectors not scored here (per-run ones), by `detector/rule`. */
  unscored: Record<string, number>;
  /** The first false alarms of each rule (at most SAMPLES_PER_RULE), to read. */
  false_alarm_samples: FindingBrief[];
}

const SAMPLES_PER_RULE = 5;

/**
 * Scores the findings of one simulated fleet against its ground truth (pure).
 *
 * Matching (src/eval/sim/match.ts): a finding's dimensions are its `cohort` map plus its scope (a
 * run scope resolved to the run's simulated cohort). For each incident of the same detector whose
 * window [start_ts, end_ts + tolerance] holds the finding's ts:
 * - the finding DETECTS the incident when its rule is one of the incident's expected rules and it
 *   names every dimension of the incident's cohort with the same value (a spend incident on
 *   tenant × agent × user × model by a finding on that cohort; a version drop by a finding on
 *   agent × the new model_version × prompt_hash, in any segment lineage; a plan_tier=free drop by
 *   a finding on a plan_tier=free lineage; a decay by any finding on the agent);
 * - otherwise it is RELATED when its dimensions are consistent with the incident's (no
 *   dimension contradicts, at least one shared): the user's llm_rate during its cohort's spike,
 *   run_tokens_p99 on a run of the spiking cohort, the agent's unsegmented lineage during a
 *   segment drop (recorded as a coarse detection when the rule is expected). Not a false alarm,
 *   not a detection.
 * A finding that no incident explains is a FALSE ALARM. Rates are per unit-day of quiet traffic
 * (ruleUnit): the fleet's duration per unit less the windows of the incidents consistent with it.
 * Recall: an incident is detected when at least one finding detects it; the delay is event time
 * from start_ts to the first detection.
 */
export function scoreScenario(truth: GroundTruth, findings: readonly Finding[], options: ScoreOptions = {}): ScenarioScore {
  const tolerance = (detector: string) => options.toleranceMs?.[detector as ScoredDetector] ?? DEFAULT_TOLERANCE_MS[detector as ScoredDetector] ?? 0;
  const cohorts = new Map<string, SimCohort>(truth.cohorts.map((c) => [c.id, c]));
  const outcomes = new Map<string, IncidentOutcome>(truth.incidents.map((i) => [i.id, outcomeOf(i, options.floors ?? {})]));
  const rules: Record<string, RuleTally> = {};
  const tally = (detector: string, rule: string): RuleTally => {
    const key = `${detector}/${rule}`;
    return (rules[key] ??= { unit: ruleUnit(detector, rule), findings: 0, detections: 0, related: 0, false_alarms: 0, quiet_unit_days: 0 });
  };
  for (const key of options.rules ?? []) {
    const [detector = '', rule = ''] = key.split('/');
    tally(detector, rule);
  }
  const unscored: Record<string, number> = {};
  const samples: FindingBrief[] = [];

  for (const f of [...findings].sort((a, b) => a.ts - b.ts)) {
    if (!(SCORED_DETECTORS as readonly string[]).includes(f.detector)) {
      unscored[`${f.detector}/${f.rule}`] = (unscored[`${f.detector}/${f.rule}`] ?? 0) + 1;
      continue;
    }
    const t = tally(f.detector, f.rule);
    t.findings++;
    const dims = findingDims(f, cohorts);
    const open = truth.incidents.filter((i) => i.expected.detector === f.detector && inWindow(f.ts, i, tolerance(f.detector)));
    const expected = (i: Incident) => i.expected.rules.includes(f.rule);
    const detected = open.filter((i) => expected(i) && covers(dims, i.cohort));
    if (detected.length > 0) {
      t.detections++;
      for (const i of detected) {
        const o = outcomes.get(i.id) as IncidentOutcome;
        const d: Detection = { rule: f.rule, ts: f.ts, delay_ms: f.ts - i.start_ts };
        o.first ??= d;
        o.by_rule[f.rule] ??= d;
      }
      continue;
    }
    const explains = open.filter((i) => consistent(dims, i.cohort));
    if (explains.length > 0) {
      t.related++;
      for (const i of explains.filter(expected)) (outcomes.get(i.id) as IncidentOutcome).coarse ??= { rule: f.rule, ts: f.ts, delay_ms: f.ts - i.start_ts };
      continue;
    }
    t.false_alarms++;
    if (t.false_alarms <= SAMPLES_PER_RULE) {
      samples.push({ ts: f.ts, rule: `${f.detector}/${f.rule}`, scope: `${f.scope.kind}:${f.scope.id}`, ...(f.cohort ? { cohort: f.cohort } : {}), observed: f.observed, threshold: f.threshold });
    }
  }

  const exposure = quietUnitDays(truth, tolerance);
  for (const [key, t] of Object.entries(rules)) t.quiet_unit_days = exposure(key.slice(0, key.indexOf('/')), t.unit);
  return { seed: truth.seed, days: (truth.end_ts - truth.start_ts) / DAY_MS, incidents: [...outcomes.values()], rules, unscored, false_alarm_samples: samples };
}

function outcomeOf(i: Incident, floors: Readonly<Record<string, number>>): IncidentOutcome {
  const o: IncidentOutcome = { id: i.id, kind: i.kind, magnitude: i.magnitude, start_ts: i.start_ts, end_ts: i.end_ts, first: null, by_rule: {}, coarse: null };
  for (const [key, floor] of Object.entries(floors)) {
    const base = i.details[key];
    if (typeof base === 'number') o.above_floor = base * i.magnitude >= floor;
  }
  return o;
}

/** Unit-days of quiet traffic, by detector and unit (see scoreScenario). */
function quietUnitDays(truth: GroundTruth, tolerance: (detector: string) => number): (detector: string, unit: TrafficUnit) => number {
  const users = new Map(truth.cohorts.map((c) => [c.user_id, { tenant_id: c.tenant_id, user_id: c.user_id }]));
  const units: Record<TrafficUnit, Dims[]> = {
    spend_cohort: truth.cohorts.map((c) => ({ tenant_id: c.tenant_id, agent_id: c.agent_id, user_id: c.user_id, model: c.model })),
    user: [...users.values()],
    agent: truth.agents.map((a) => ({ agent_id: a.agent_id })),
  };
  const memo = new Map<string, number>();
  return (detector, unit) => {
    const key = `${detector}|${unit}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const incidents = truth.incidents.filter((i) => i.expected.detector === detector);
    let ms = 0;
    for (const u of units[unit]) {
      const busy = incidents
        .filter((i) => consistent(u, i.cohort))
        .map((i): [number, number] => [Math.max(truth.start_ts, i.start_ts), Math.min(truth.end_ts, i.end_ts + tolerance(detector))]);
      ms += truth.end_ts - truth.start_ts - unionLength(busy);
    }
    memo.set(key, ms / DAY_MS);
    return ms / DAY_MS;
  };
}

/** Total length of a union of [from, to] intervals. */
export function unionLength(intervals: readonly (readonly [number, number])[]): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of sorted) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}
