import type { Draws } from './draws.ts';
import type { Incident } from './ground-truth.ts';
import { diurnalFactor, type Roster, type RosterCohort } from './cohort-roster.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Which incidents to inject. Counts that do not fit the fleet (too few cohorts or agents, too short) are cut. */
export interface IncidentMix {
  /** Sharp spend spikes (1–3 min): each magnitude `spikesPerMagnitude` times, on distinct cohorts. */
  spikeMagnitudes: number[];
  spikesPerMagnitude: number;
  /** Sustained rises (20–40 min) of `sustainedMagnitude` × the cohort's runs. */
  sustained: number;
  sustainedMagnitude: number;
  /** User LLM-call-rate bursts (5–10 min), one user per magnitude. */
  burstMagnitudes: number[];
  /** Abrupt judge drops at a new model_version or prompt_hash, one agent each. */
  versionDrops: number[];
  /** Slow judge declines (share of the agent's mean, linear from start to the fleet's end). */
  decays: number[];
  /** Judge drops of one segment only (plan_tier=free, then user_segment=new, then region=eu-west). */
  segmentDrops: number[];
  /** New versions with unchanged scores (controls: any finding on them is a false alarm). */
  benignReleases: number;
}

/** Spend incidents start after this much history (the cost-spike baseline needs an hour) … */
export const SPEND_WARMUP_MS = 90 * MINUTE;
/** … and at least this long before the fleet ends, so that a late detection can still be seen. */
export const SPEND_TAIL_MS = 30 * MINUTE;

/** The default mix for a fleet of this size and duration. */
export function defaultIncidentMix(durationMs: number, cohorts: number): IncidentMix {
  const spend = durationMs > SPEND_WARMUP_MS + SPEND_TAIL_MS;
  const judge = durationMs >= 6 * HOUR;
  const perMagnitude = Math.max(1, Math.floor(cohorts / 30));
  return {
    spikeMagnitudes: spend ? [3, 5, 10, 100] : [],
    spikesPerMagnitude: perMagnitude,
    sustained: spend ? perMagnitude : 0,
    sustainedMagnitude: 5,
    burstMagnitudes: spend ? (cohorts >= 12 ? [5, 10, 30] : [10]) : [],
    versionDrops: judge ? [0.05, 0.1, 0.15] : [],
    decays: durationMs >= 2 * 24 * HOUR ? [0.05] : [],
    segmentDrops: judge ? [0.1] : [],
    benignReleases: judge ? 1 : 0,
  };
}

/** A change of a cohort's traffic during [start, end). */
export interface SpendEffect {
  start: number;
  end: number;
  /** Multiplies the runs started per minute. */
  rate: number;
  /** Multiplies the tokens (prompt and completion): of the calls made in the window (`by: 'call'`) or of the runs started in it (`by: 'run'`). */
  tokens: number;
  by: 'call' | 'run';
}

/** A version of an agent in force from `ts`; `drop` lowers the scores of its runs. */
export interface PlannedRelease {
  ts: number;
  model_version: string;
  prompt_hash: string;
  kind: 'initial' | 'benign' | 'incident';
  drop: number;
}

export interface JudgePlan {
  releases: PlannedRelease[];
  decay: { start: number; end: number; relative: number } | null;
  segmentDrop: { dim: 'plan_tier' | 'user_segment' | 'region'; value: string; start: number; drop: number } | null;
}

export interface IncidentPlan {
  incidents: Incident[];
  /** By cohort id. */
  spend: Map<string, SpendEffect[]>;
  /** By agent id. */
  judge: Map<string, JudgePlan>;
}

const SEGMENTS = [
  { dim: 'plan_tier', value: 'free' },
  { dim: 'user_segment', value: 'new' },
  { dim: 'region', value: 'eu-west' },
] as const;

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

/**
 * Places the incidents of `mix` on the roster: spend incidents on distinct cohorts (at most three
 * quarters of them, so quiet cohorts remain), starting between SPEND_WARMUP_MS after the fleet's
 * start and SPEND_TAIL_MS before its end; judge incidents on distinct agents (all but one at most), starting between 35 %
 * and 60 % of the fleet's duration and lasting to its end. Deterministic for a given draw stream.
 */
export function planIncidents(d: Draws, roster: Roster, mix: IncidentMix, startMs: number, endMs: number, diurnalAmplitude: number): IncidentPlan {
  const incidents: Incident[] = [];
  const spend = new Map<string, SpendEffect[]>();
  const judge = new Map<string, JudgePlan>();
  const nextId = () => `inc-${String(incidents.length + 1).padStart(3, '0')}`;
  const minuteIn = (from: number, to: number) => from + d.int(Math.max(1, Math.floor((to - from) / MINUTE))) * MINUTE;
  const addSpend = (c: RosterCohort, e: SpendEffect) => spend.set(c.id, [...(spend.get(c.id) ?? []), e]);
  const cohortDims = (c: RosterCohort) => ({ tenant_id: c.tenant_id, agent_id: c.agent_id, user_id: c.user_id, model: c.model });

  // Spend: users with a burst first (all their cohorts are touched), then single cohorts.
  const spendFrom = startMs + SPEND_WARMUP_MS;
  const spendTo = endMs - SPEND_TAIL_MS;
  if (spendTo > spendFrom) {
    const budget = Math.floor(roster.cohorts.length * 0.75);
    let touched = 0;
    const users = d.shuffle([...new Set(roster.cohorts.map((c) => c.user_id))]);
    for (const k of mix.burstMagnitudes) {
      const user = users.shift();
      if (user === undefined) break;
      const own = roster.cohorts.filter((c) => c.user_id === user);
      if (touched + own.length > budget) break;
      touched += own.length;
      const start = minuteIn(spendFrom, spendTo) + d.int(60) * 1000;
      const end = start + (5 + d.int(6)) * MINUTE;
      for (const c of own) addSpend(c, { start, end, rate: k, tokens: 1 / k, by: 'run' });
      const calls = own.reduce((n, c) => n + c.runs_per_minute * c.profile.callsPerRun * diurnalFactor(c.region, start, diurnalAmplitude), 0);
      incidents.push({
        id: nextId(),
        kind: 'llm_rate_burst',
        cohort: { user_id: user },
        start_ts: start,
        end_ts: end,
        magnitude: k,
        unit: 'times',
        expected: { detector: 'cost-spike', rules: ['llm_rate'] },
        details: { cohort_ids: own.map((c) => c.id), driver: 'runs_with_fewer_tokens', duration_minutes: (end - start) / MINUTE, baseline_llm_calls_per_minute: round(calls) },
      });
    }
    // Spend incidents land where the money is: a cohort is drawn with probability ∝ its spend
    // (cheap cohorts still get some; their incidents fall under the detectors' absolute floors).
    const free = roster.cohorts.filter((c) => !spend.has(c.id));
    const take = (): RosterCohort | undefined => {
      if (touched >= budget || free.length === 0) return undefined;
      touched++;
      return free.splice(weightedIndex(d, free.map((c) => c.usd_per_minute)), 1)[0];
    };
    const spikes = mix.spikeMagnitudes.flatMap((k) => Array.from({ length: mix.spikesPerMagnitude }, () => k));
    for (const k of spikes) {
      const c = take();
      if (!c) break;
      const start = minuteIn(spendFrom, spendTo) + d.int(60) * 1000;
      const minutes = 1 + d.int(3);
      const end = start + minutes * MINUTE;
      addSpend(c, { start, end, rate: 1, tokens: k, by: 'call' });
      incidents.push({
        id: nextId(),
        kind: 'spend_spike',
        cohort: cohortDims(c),
        start_ts: start,
        end_ts: end,
        magnitude: k,
        unit: 'times',
        expected: { detector: 'cost-spike', rules: ['spend_spike', 'spend_sustained'] },
        details: { cohort_id: c.id, driver: 'tokens', duration_minutes: minutes, baseline_usd_per_minute: round(c.usd_per_minute * diurnalFactor(c.region, start, diurnalAmplitude), 6) },
      });
    }
    for (let i = 0; i < mix.sustained; i++) {
      const c = take();
      if (!c) break;
      const start = minuteIn(spendFrom, Math.max(spendFrom + MINUTE, endMs - 45 * MINUTE)) + d.int(60) * 1000;
      const end = Math.min(endMs, start + (20 + d.int(21)) * MINUTE);
      const minutes = Math.round((end - start) / MINUTE);
      const k = mix.sustainedMagnitude;
      addSpend(c, { start, end, rate: k, tokens: 1, by: 'run' });
      incidents.push({
        id: nextId(),
        kind: 'spend_sustained',
        cohort: cohortDims(c),
        start_ts: start,
        end_ts: end,
        magnitude: k,
        unit: 'times',
        expected: { detector: 'cost-spike', rules: ['spend_sustained', 'spend_spike'] },
        details: { cohort_id: c.id, driver: 'runs', duration_minutes: minutes, baseline_usd_per_minute: round(c.usd_per_minute * diurnalFactor(c.region, start, diurnalAmplitude), 6) },
      });
    }
  }

  // Judge: every agent starts on its initial version; incidents on distinct agents, one left quiet.
  for (const a of roster.agents) {
    judge.set(a.agent_id, { releases: [{ ts: startMs, model_version: 'mv1', prompt_hash: hash(d), kind: 'initial', drop: 0 }], decay: null, segmentDrop: null });
  }
  const agents = d.shuffle(roster.agents);
  const judgeFrom = startMs + Math.floor((endMs - startMs) * 0.35);
  const judgeTo = startMs + Math.floor((endMs - startMs) * 0.6);
  const room = () => agents.length > 1;
  const release = (agentId: string, kind: 'benign' | 'incident', drop: number): PlannedRelease => {
    const plan = judge.get(agentId) as JudgePlan;
    const prev = plan.releases[plan.releases.length - 1] as PlannedRelease;
    const newModel = d.u() < 0.5;
    const r: PlannedRelease = {
      ts: minuteIn(judgeFrom, judgeTo) + d.int(60) * 1000,
      model_version: newModel ? `mv${Number(prev.model_version.slice(2)) + 1}` : prev.model_version,
      prompt_hash: newModel ? prev.prompt_hash : hash(d),
      kind,
      drop,
    };
    plan.releases.push(r);
    return r;
  };
  const meanOf = (agentId: string) => roster.agents.find((a) => a.agent_id === agentId)?.profile.judgeMean ?? 0;
  for (const drop of mix.versionDrops) {
    if (!room()) break;
    const a = agents.shift() as (typeof agents)[number];
    const plan = judge.get(a.agent_id) as JudgePlan;
    const before = plan.releases[plan.releases.length - 1] as PlannedRelease;
    const r = release(a.agent_id, 'incident', drop);
    incidents.push({
      id: nextId(),
      kind: 'judge_version_drop',
      cohort: { agent_id: a.agent_id, model_version: r.model_version, prompt_hash: r.prompt_hash },
      start_ts: r.ts,
      end_ts: endMs,
      magnitude: drop,
      unit: 'score_drop',
      expected: { detector: 'judge-drift', rules: ['version_drop', 'recent_drop'] },
      details: { changed: r.model_version !== before.model_version ? 'model_version' : 'prompt_hash', predecessor: { model_version: before.model_version, prompt_hash: before.prompt_hash }, judge_mean: meanOf(a.agent_id) },
    });
  }
  for (const [i, drop] of mix.segmentDrops.entries()) {
    const seg = SEGMENTS[i % SEGMENTS.length] as (typeof SEGMENTS)[number];
    // The agent needs traffic both inside and outside the segment.
    const a = agents.find((x) => {
      const own = roster.cohorts.filter((c) => c.agent_id === x.agent_id);
      return own.some((c) => c[seg.dim] === seg.value) && own.some((c) => c[seg.dim] !== seg.value);
    });
    if (!a || !room()) break;
    agents.splice(agents.indexOf(a), 1);
    const start = minuteIn(judgeFrom, judgeTo) + d.int(60) * 1000;
    (judge.get(a.agent_id) as JudgePlan).segmentDrop = { dim: seg.dim, value: seg.value, start, drop };
    incidents.push({
      id: nextId(),
      kind: 'judge_segment_drop',
      cohort: { agent_id: a.agent_id, [seg.dim]: seg.value },
      start_ts: start,
      end_ts: endMs,
      magnitude: drop,
      unit: 'score_drop',
      expected: { detector: 'judge-drift', rules: ['recent_drop', 'decline'] },
      details: { segment: { [seg.dim]: seg.value }, judge_mean: meanOf(a.agent_id) },
    });
  }
  for (const relative of mix.decays) {
    if (!room()) break;
    const a = agents.shift() as (typeof agents)[number];
    const start = startMs + Math.floor((endMs - startMs) * 0.25);
    (judge.get(a.agent_id) as JudgePlan).decay = { start, end: endMs, relative };
    incidents.push({
      id: nextId(),
      kind: 'judge_decay',
      cohort: { agent_id: a.agent_id },
      start_ts: start,
      end_ts: endMs,
      magnitude: relative,
      unit: 'relative_decline',
      expected: { detector: 'judge-drift', rules: ['decline', 'recent_drop'] },
      details: { judge_mean: meanOf(a.agent_id), final_drop: round(relative * meanOf(a.agent_id)), over_hours: round((endMs - start) / HOUR, 2) },
    });
  }
  for (let i = 0; i < mix.benignReleases; i++) {
    if (!room()) break;
    release((agents.shift() as (typeof agents)[number]).agent_id, 'benign', 0);
  }
  return { incidents, spend, judge };
}

/** An index drawn with probability ∝ its weight (uniform when every weight is 0). */
function weightedIndex(d: Draws, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return d.int(weights.length);
  let x = d.u() * total;
  for (const [i, w] of weights.entries()) {
    x -= w;
    if (x < 0) return i;
  }
  return weights.length - 1;
}

/** An 8-hex prompt hash. */
const hash = (d: Draws): string => Math.floor(d.u() * 0x1_0000_0000).toString(16).padStart(8, '0');
