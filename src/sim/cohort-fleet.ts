import type { SpanEventInput } from '../contracts/span.ts';
import { buildRoster, diurnalFactor, type Roster } from './cohort-roster.ts';
import { writeRun, writeRunaway, type RunOptions } from './cohort-runs.ts';
import { createDraws } from './draws.ts';
import { SIM_TRUTH_SCHEMA_VERSION, type GroundTruth } from './ground-truth.ts';
import { defaultIncidentMix, planIncidents, type IncidentMix, type IncidentPlan } from './incident-plan.ts';
import type { JudgePlan } from './judge-incidents.ts';

const MINUTE = 60_000;

export interface CohortFleetOptions {
  seed?: number;
  /** Event time of the first minute (epoch ms, floored to the minute). */
  startMs?: number;
  durationMs?: number;
  /** Spend cohorts (tenant × agent × user × model). */
  cohorts?: number;
  agents?: number;
  tenants?: number;
  /** Median runs started per minute per cohort. */
  runsPerMinute?: number;
  /** Day/night swing of the traffic: 0.5 → 0.5× to 1.5× over a day. */
  diurnalAmplitude?: number;
  /** Share of runs that get a judge score. */
  judgeShare?: number;
  /** Spread of judge scores around the run's mean: Beta concentration (higher, narrower). */
  judgeConcentration?: number;
  /** Overrides of the default incident mix (defaultIncidentMix). */
  incidents?: Partial<IncidentMix>;
}

export interface CohortFleet {
  truth: GroundTruth;
  /**
   * The span events in event-time order, generated a minute at a time (memory stays at a few
   * minutes of events whatever the duration). Each call starts over and yields the same events.
   */
  events(): Generator<SpanEventInput>;
}

/**
 * A fleet of many cohorts over hours to days of event time, with injected incidents and their
 * ground truth (src/sim/ground-truth.ts): per cohort a few runs a minute (Poisson arrivals, a
 * diurnal swing by region), lognormal tokens per call, judge scores ~ Beta around the agent's
 * mean. Deterministic for a given seed: the plan (roster, incidents) and the events come from two
 * seeded streams, so the same options give the same truth and the same events, byte for byte.
 */
export function simulateCohortFleet(options: CohortFleetOptions = {}): CohortFleet {
  const seed = options.seed ?? 42;
  const startMs = Math.floor((options.startMs ?? Date.UTC(2026, 0, 5)) / MINUTE) * MINUTE;
  const durationMs = Math.max(MINUTE, Math.floor((options.durationMs ?? 8 * 3_600_000) / MINUTE) * MINUTE);
  const endMs = startMs + durationMs;
  const nCohorts = options.cohorts ?? 60;
  const agents = options.agents ?? Math.min(8, Math.max(2, Math.round(nCohorts / 6)));
  const tenants = options.tenants ?? Math.max(2, Math.round(nCohorts / 8));
  const amplitude = options.diurnalAmplitude ?? 0.5;
  const plannerDraws = createDraws(seed);
  const roster = buildRoster(plannerDraws, { cohorts: nCohorts, agents, tenants, runsPerMinute: options.runsPerMinute ?? 1.5 });
  const mix = { ...defaultIncidentMix(durationMs, nCohorts), ...options.incidents };
  const plan = planIncidents(plannerDraws, roster, mix, startMs, endMs, amplitude);
  const truth = truthOf(seed, startMs, endMs, roster, plan);
  const gen: GenOptions = { seed, startMs, endMs, amplitude, judgeShare: options.judgeShare ?? 0.6, kappa: options.judgeConcentration ?? 20 };
  return { truth, events: () => generate(roster, plan, gen) };
}

function truthOf(seed: number, startMs: number, endMs: number, roster: Roster, plan: IncidentPlan): GroundTruth {
  const judgeIncidentAgents = new Set(plan.incidents.filter((i) => i.expected.detector === 'judge-drift').map((i) => i.cohort['agent_id']));
  return {
    schema: SIM_TRUTH_SCHEMA_VERSION,
    seed,
    start_ts: startMs,
    end_ts: endMs,
    cohorts: roster.cohorts.map((c) => ({
      id: c.id,
      tenant_id: c.tenant_id,
      agent_id: c.agent_id,
      user_id: c.user_id,
      model: c.model,
      plan_tier: c.plan_tier,
      region: c.region,
      user_segment: c.user_segment,
      runs_per_minute: c.runs_per_minute,
      usd_per_minute: Number(c.usd_per_minute.toFixed(6)),
      quiet: !plan.spend.has(c.id),
    })),
    agents: roster.agents.map((a) => ({
      agent_id: a.agent_id,
      judge_mean: a.profile.judgeMean,
      releases: (plan.judge.get(a.agent_id)?.releases ?? []).map(({ ts, model_version, prompt_hash, kind }) => ({ ts, model_version, prompt_hash, kind })),
      quiet: !judgeIncidentAgents.has(a.agent_id),
    })),
    incidents: plan.incidents,
  };
}

interface GenOptions extends RunOptions {
  seed: number;
  startMs: number;
  endMs: number;
  amplitude: number;
}

interface Pending {
  seq: number;
  event: SpanEventInput;
}

/**
 * Minute by minute: draw each cohort's run starts, write each run's events in full (they may
 * spill a minute or two ahead), then emit, in (ts, generation order), every buffered event before
 * the next minute — no later run can start before it.
 */
function* generate(roster: Roster, plan: IncidentPlan, o: GenOptions): Generator<SpanEventInput> {
  // A stream of its own, so the events do not depend on how many draws the plan took.
  const d = createDraws((o.seed ^ 0x5eed) >>> 0);
  const runSeq = new Map<string, number>();
  let buffer: Pending[] = [];
  let seq = 0;
  let emitted = 0;
  const push = (event: SpanEventInput) => buffer.push({ seq: seq++, event });
  for (let minute = o.startMs; minute < o.endMs; minute += MINUTE) {
    for (const c of roster.cohorts) {
      const effect = plan.spend.get(c.id);
      const judge = plan.judge.get(c.agent_id) as JudgePlan;
      const rate = c.runs_per_minute * diurnalFactor(c.region, minute, o.amplitude);
      // Runs drawn at the base rate, plus the extra runs of a traffic effect during its part of the minute.
      const starts: number[] = [];
      for (let i = d.poisson(rate); i > 0; i--) starts.push(minute + d.int(MINUTE));
      if (effect?.kind === 'traffic' && effect.start < minute + MINUTE && effect.end > minute) {
        const from = Math.max(minute, effect.start);
        const to = Math.min(minute + MINUTE, effect.end);
        for (let i = d.poisson((rate * (effect.rate - 1) * (to - from)) / MINUTE); i > 0; i--) starts.push(from + d.int(to - from));
      }
      starts.sort((a, b) => a - b);
      for (const ts of starts) {
        const n = (runSeq.get(c.id) ?? 0) + 1;
        runSeq.set(c.id, n);
        writeRun(d, c, `${c.id}.r${n}`, ts, effect, judge, o, push);
      }
      if (effect?.kind === 'runaway' && effect.start >= minute && effect.start < minute + MINUTE) writeRunaway(d, c, `${c.id}.runaway`, effect, judge, push);
    }
    const cut = minute + MINUTE;
    buffer.sort((a, b) => (a.event.ts as number) - (b.event.ts as number) || a.seq - b.seq);
    let k = 0;
    while (k < buffer.length && ((buffer[k] as Pending).event.ts as number) < cut) k++;
    for (let i = 0; i < k; i++) {
      const ev = (buffer[i] as Pending).event;
      ev.event_id = `s${o.seed}-e${++emitted}`;
      yield ev;
    }
    buffer = buffer.slice(k);
  }
  // Runs started in the last minutes end after the fleet does: their tails are part of the fleet.
  buffer.sort((a, b) => (a.event.ts as number) - (b.event.ts as number) || a.seq - b.seq);
  for (const { event } of buffer) {
    event.event_id = `s${o.seed}-e${++emitted}`;
    yield event;
  }
}
