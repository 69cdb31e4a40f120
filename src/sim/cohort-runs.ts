import type { SpanEventInput } from '../contracts/span.ts';
import { expectedUsdPerRun, INPUT_SIGMA, OUTPUT_SIGMA } from './agent-profiles.ts';
import type { RosterCohort } from './cohort-roster.ts';
import type { Draws } from './draws.ts';
import type { JudgePlan, PlannedRelease } from './judge-incidents.ts';
import type { SpendEffect } from './spend-incidents.ts';

export interface RunOptions {
  /** Share of runs that get a judge score. */
  judgeShare: number;
  /** Beta concentration of judge scores around the run's mean. */
  kappa: number;
}

type Push = (e: SpanEventInput) => void;
type Body = Pick<SpanEventInput, 'kind'> & Record<string, unknown>;

/** The version of an agent in force at `ts`. */
export function versionAt(plan: JudgePlan, ts: number): PlannedRelease {
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

/**
 * The events of one run share everything but their kind, time and payload: `emit(ts, body)` pushes
 * one (run_start and run_end are the root span, every other event a child span of it). The
 * event_id is left empty: the generator numbers events in the order it emits them.
 */
function runEmitter(c: RosterCohort, runId: string, version: PlannedRelease, push: Push): (ts: number, body: Body) => void {
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
  return (ts, body) => {
    const root = body.kind === 'run_start' || body.kind === 'run_end';
    push({
      schema: 'runwarden.span/v1',
      event_id: '',
      ts,
      run_id: runId,
      span_id: root ? 'root' : `s${++span}`,
      ...(root ? {} : { parent_span_id: 'root' }),
      agent_id: c.agent_id,
      tenant_id: c.tenant_id,
      user_id: c.user_id,
      attrs,
      ...body,
    } as SpanEventInput);
  };
}

/** An LLM call of `c` with its tokens (prompt and completion alike, so its cost) scaled by `scale`. */
function llmCall(d: Draws, c: RosterCohort, scale: number): Body {
  const p = c.profile;
  const input = Math.max(1, Math.round(d.lognormal(p.inputTokens, INPUT_SIGMA) * scale));
  const output = Math.max(1, Math.round(d.lognormal(p.outputTokens, OUTPUT_SIGMA) * scale));
  return { kind: 'llm_call', llm: { model: c.model, input_tokens: input, output_tokens: output, latency_ms: Math.round(d.lognormal(1_200, 0.5)) } };
}

/**
 * One ordinary run started at `startTs`: run_start, 1 + Poisson(callsPerRun − 1) LLM calls (each
 * maybe followed by a tool call), maybe a judge score, run_end. A `traffic` effect in force at
 * the start scales its tokens.
 */
export function writeRun(d: Draws, c: RosterCohort, runId: string, startTs: number, effect: SpendEffect | undefined, judge: JudgePlan, o: RunOptions, push: Push): void {
  const version = versionAt(judge, startTs);
  const emit = runEmitter(c, runId, version, push);
  const p = c.profile;
  const scale = effect?.kind === 'traffic' && startTs >= effect.start && startTs < effect.end ? effect.tokens : 1;
  let ts = startTs;
  emit(ts, { kind: 'run_start' });
  const calls = 1 + d.poisson(p.callsPerRun - 1);
  for (let i = 0; i < calls; i++) {
    ts += 300 + Math.round(d.lognormal(1_500, 0.5));
    emit(ts, llmCall(d, c, scale));
    if (d.u() < p.toolRate) {
      ts += 100 + Math.round(d.lognormal(400, 0.8));
      const status = d.u() < 0.03 ? 'error' : 'ok';
      emit(ts, { kind: 'tool_call', tool: { name: d.pick(p.tools), args_hash: d.int(0x1_0000_0000).toString(16), status, duration_ms: Math.round(d.lognormal(300, 0.7)) } });
    }
  }
  if (d.u() < o.judgeShare) {
    ts += 500 + d.int(1_500);
    const score = d.beta(judgeMean(c, judge, version, startTs), o.kappa);
    emit(ts, { kind: 'judge_score', judge: { score: Math.round(score * 10_000) / 10_000, rubric: 'helpfulness' } });
  }
  ts += 50 + d.int(250);
  emit(ts, { kind: 'run_end', status: d.u() < 0.03 ? 'error' : 'ok' });
}

/**
 * The runaway run of a `runaway` effect: from `start` an LLM call every 0.5–1.5 s until `end`,
 * each scaled so that the calls cost `usd` in all (in expectation), then run_end with an error.
 */
export function writeRunaway(d: Draws, c: RosterCohort, runId: string, effect: Extract<SpendEffect, { kind: 'runaway' }>, judge: JudgePlan, push: Push): void {
  const emit = runEmitter(c, runId, versionAt(judge, effect.start), push);
  const calls = Math.max(1, Math.round((effect.end - effect.start) / 1_000));
  const usdPerCall = expectedUsdPerRun(c.profile, c.model) / c.profile.callsPerRun;
  const scale = usdPerCall > 0 ? effect.usd / calls / usdPerCall : 1;
  let ts = effect.start;
  emit(ts, { kind: 'run_start' });
  for (ts += 500 + d.int(1_000); ts < effect.end; ts += 500 + d.int(1_000)) emit(ts, llmCall(d, c, scale));
  emit(ts, { kind: 'run_end', status: 'error' });
}
