import type { SpanEventInput } from '../contracts/span.ts';
import { INPUT_SIGMA, OUTPUT_SIGMA } from './agent-profiles.ts';
import { buildRoster, diurnalFactor, type Roster, type RosterCohort } from './cohort-roster.ts';
import { createDraws, type Draws } from './draws.ts';
import { SIM_TRUTH_SCHEMA_VERSION, type GroundTruth } from './ground-truth.ts';
import { defaultIncidentMix, planIncidents, type IncidentMix, type IncidentPlan } from './incident-plan.ts';
import type { JudgePlan, PlannedRelease } from './judge-incidents.ts';
import type { SpendEffect } from './spend-incidents.ts';

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

interface GenOptions {
  seed: number;
  startMs: number;
  endMs: number;
  amplitude: number;
  judgeShare: number;
  kappa: number;
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
      const runEffect = effect?.by === 'run' && effect.start < minute + MINUTE && effect.end > minute ? effect : undefined;
      const rate = c.runs_per_minute * diurnalFactor(c.region, minute, o.amplitude);
      // Runs drawn at the base rate, plus the extra runs of an effect during its part of the minute.
      const starts: number[] = [];
      for (let i = d.poisson(rate); i > 0; i--) starts.push(minute + d.int(MINUTE));
      if (runEffect) {
        const from = Math.max(minute, runEffect.start);
        const to = Math.min(minute + MINUTE, runEffect.end);
        for (let i = d.poisson((rate * (runEffect.rate - 1) * (to - from)) / MINUTE); i > 0; i--) starts.push(from + d.int(to - from));
      }
      starts.sort((a, b) => a - b);
      for (const ts of starts) {
        const n = (runSeq.get(c.id) ?? 0) + 1;
        runSeq.set(c.id, n);
        writeRun(d, c, `${c.id}.r${n}`, ts, effect, plan.judge.get(c.agent_id) as JudgePlan, o, push);
      }
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

/** The version of an agent in force at `ts`. */
function versionAt(plan: JudgePlan, ts: number): PlannedRelease {
  let v = plan.releases[0] as PlannedRelease;
  for (const r of plan.releases) if (r.ts <= ts) v = r;
  return v;
}

/** Mean judge score of a run of `c` started at `ts` on `version`. */
function judgeMean(c: RosterCohort, plan: JudgePlan, version: PlannedRelease, ts: number): number {
  let mean = c.profile.judgeMean + c.judge_offset - version.drop;
  const decay = plan.decay;
  if (decay && ts >= decay.start) mean -= decay.relative * c.profile.judgeMean * Math.min(1, (ts - decay.start) / (decay.end - decay.start));
  const seg = plan.segmentDrop;
  if (seg && ts >= seg.start && c[seg.dim] === seg.value) mean -= seg.drop;
  return Math.min(0.98, Math.max(0.02, mean));
}

/** One run: run_start, LLM calls (each maybe followed by a tool call), maybe a judge score, run_end. */
function writeRun(d: Draws, c: RosterCohort, runId: string, startTs: number, effect: SpendEffect | undefined, judge: JudgePlan, o: GenOptions, push: (e: SpanEventInput) => void): void {
  const version = versionAt(judge, startTs);
  const attrs = {
    model: c.model,
    model_version: version.model_version,
    prompt_hash: version.prompt_hash,
    plan_tier: c.plan_tier,
    region: c.region,
    user_segment: c.user_segment,
    env: 'sim',
  };
  let span = 0;
  let ts = startTs;
  const base = (kind: string) => ({
    schema: 'runwarden.span/v1' as const,
    event_id: '',
    ts,
    run_id: runId,
    span_id: kind === 'run_start' || kind === 'run_end' ? 'root' : `s${++span}`,
    ...(kind === 'run_start' || kind === 'run_end' ? {} : { parent_span_id: 'root' }),
    agent_id: c.agent_id,
    tenant_id: c.tenant_id,
    user_id: c.user_id,
    attrs,
  });
  push({ ...base('run_start'), kind: 'run_start' });
  const p = c.profile;
  // The effect's token factor when it applies to this run (by its start) or call (by its time).
  const tokenFactor = (by: SpendEffect['by'], t: number) => (effect && effect.by === by && t >= effect.start && t < effect.end ? effect.tokens : 1);
  const runTokens = tokenFactor('run', startTs);
  const calls = 1 + d.poisson(p.callsPerRun - 1);
  for (let i = 0; i < calls; i++) {
    ts += 300 + Math.round(d.lognormal(1_500, 0.5));
    const callTokens = tokenFactor('call', ts);
    // An effect scales prompt and completion alike, so the call's cost scales by exactly its factor.
    const scale = runTokens * callTokens;
    const input = Math.max(1, Math.round(d.lognormal(p.inputTokens, INPUT_SIGMA) * scale));
    const output = Math.max(1, Math.round(d.lognormal(p.outputTokens, OUTPUT_SIGMA) * scale));
    push({ ...base('llm_call'), kind: 'llm_call', llm: { model: c.model, input_tokens: input, output_tokens: output, latency_ms: Math.round(d.lognormal(1_200, 0.5)) } });
    if (d.u() < p.toolRate) {
      ts += 100 + Math.round(d.lognormal(400, 0.8));
      const status = d.u() < 0.03 ? 'error' : 'ok';
      push({ ...base('tool_call'), kind: 'tool_call', tool: { name: d.pick(p.tools), args_hash: d.int(0x1_0000_0000).toString(16), status, duration_ms: Math.round(d.lognormal(300, 0.7)) } });
    }
  }
  if (d.u() < o.judgeShare) {
    ts += 500 + d.int(1_500);
    const score = d.beta(judgeMean(c, judge, version, startTs), o.kappa);
    push({ ...base('judge_score'), kind: 'judge_score', judge: { score: Math.round(score * 10_000) / 10_000, rubric: 'helpfulness' } });
  }
  ts += 50 + d.int(250);
  push({ ...base('run_end'), kind: 'run_end', status: d.u() < 0.03 ? 'error' : 'ok' });
}
