import type { Draws } from './draws.ts';
import type { Incident } from './ground-truth.ts';
import type { Roster } from './cohort-roster.ts';
import { planJudgeIncidents, type JudgePlan } from './judge-incidents.ts';
import { planSpendIncidents, SPEND_TAIL_MS, SPEND_WARMUP_MS, type SpendEffect } from './spend-incidents.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Which incidents to inject. Counts that do not fit the fleet (too few cohorts or agents, too short) are cut. */
export interface IncidentMix {
  /** Sharp spend spikes (a runaway run for 1–3 min): each magnitude `spikesPerMagnitude` times, on distinct cohorts. */
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

/** What the planners share: the draws, the fleet's span, and the list the incidents go to. */
export interface PlanContext {
  d: Draws;
  roster: Roster;
  mix: IncidentMix;
  startMs: number;
  endMs: number;
  diurnalAmplitude: number;
  /** Adds an incident under the next id (`inc-001`, …). */
  add(incident: Omit<Incident, 'id'>): void;
  /** A whole minute in [from, to), plus a random second within it. */
  instantIn(from: number, to: number): number;
}

export interface IncidentPlan {
  incidents: Incident[];
  /** By cohort id. */
  spend: Map<string, SpendEffect>;
  /** By agent id. */
  judge: Map<string, JudgePlan>;
}

/** Places the incidents of `mix` on the roster (spend-incidents.ts, judge-incidents.ts). Deterministic for a given draw stream. */
export function planIncidents(d: Draws, roster: Roster, mix: IncidentMix, startMs: number, endMs: number, diurnalAmplitude: number): IncidentPlan {
  const incidents: Incident[] = [];
  const ctx: PlanContext = {
    d,
    roster,
    mix,
    startMs,
    endMs,
    diurnalAmplitude,
    add: (i) => incidents.push({ id: `inc-${String(incidents.length + 1).padStart(3, '0')}`, ...i }),
    instantIn: (from, to) => from + d.int(Math.max(1, Math.floor((to - from) / MINUTE))) * MINUTE + d.int(60) * 1000,
  };
  const spend = planSpendIncidents(ctx);
  const judge = planJudgeIncidents(ctx);
  return { incidents, spend, judge };
}
