import { spanEventSchema, type SpanEvent, type SpanEventInput } from '../../src/contracts/span.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { MINUTE_MS } from '../../src/windows/cohort-partial.ts';

/** Event time of minute 0 of the test fleets. */
export const FLEET_T0 = Date.UTC(2026, 0, 1);

/** A quiet simulated fleet (no runaways): one run every ~2 s, 3 agents, 4 tenants × 5 users. */
export const quietFleet = (runs: number, seed: number): SpanEventInput[] => simulateFleet({ runs, seed, startMs: FLEET_T0, runawayShare: 0 }).events;

/** Who the burst of `withCostSpike` belongs to: the owners, model and attributes of the fleet's first gpt-4o call. */
export function firstCallCohort(events: readonly SpanEventInput[]) {
  const call = events.find((e): e is Extract<SpanEventInput, { kind: 'llm_call' }> => e.kind === 'llm_call' && e.llm.model === 'gpt-4o');
  if (!call) throw new Error('the fleet has no gpt-4o call');
  return { agent_id: call.agent_id, tenant_id: call.tenant_id, user_id: call.user_id, model: call.llm.model, attrs: call.attrs ?? {} };
}

/**
 * The fleet plus a burst in minute `atMinute`: `runs` runs of the first call's user, agent and
 * model, each making `calls` LLM calls of 20k tokens (about $0.10 each on gpt-4o), all inside the
 * minute — a user whose spend jumps a hundredfold.
 */
export function withCostSpike(events: readonly SpanEventInput[], atMinute: number, runs = 10, calls = 8): SpanEventInput[] {
  const who = firstCallCohort(events);
  const burst: SpanEventInput[] = [];
  const start = FLEET_T0 + atMinute * MINUTE_MS;
  for (let r = 0; r < runs; r++) {
    const runId = `burst-${r}`;
    const base = (i: number) => ({
      schema: 'runwarden.span/v1' as const,
      event_id: `${runId}-${i}`,
      ts: start + r * 500 + i * 100,
      run_id: runId,
      span_id: `${runId}-s${i}`,
      agent_id: who.agent_id,
      tenant_id: who.tenant_id,
      user_id: who.user_id,
      attrs: who.attrs,
    });
    burst.push({ ...base(0), kind: 'run_start' });
    for (let c = 1; c <= calls; c++) burst.push({ ...base(c), kind: 'llm_call', llm: { model: who.model, input_tokens: 14_000, output_tokens: 6_000 } });
    burst.push({ ...base(calls + 1), kind: 'run_end', status: 'ok' });
  }
  return [...events, ...burst].sort((a, b) => (a.ts as number) - (b.ts as number));
}

/**
 * Every run started from minute `atMinute` on runs `model_version` v2 (before: v1), and its judge
 * scores are `drop` lower: a model upgrade that hurt quality.
 */
export function withVersionChange(events: readonly SpanEventInput[], atMinute: number, drop: number): SpanEventInput[] {
  const started = new Map<string, number>();
  for (const e of events) if (!started.has(e.run_id)) started.set(e.run_id, e.ts as number);
  const at = FLEET_T0 + atMinute * MINUTE_MS;
  return events.map((e) => {
    const v2 = (started.get(e.run_id) ?? 0) >= at;
    const attrs = { ...e.attrs, model_version: v2 ? 'v2' : 'v1' };
    if (e.kind === 'judge_score' && v2) return { ...e, attrs, judge: { ...e.judge, score: Math.max(0, e.judge.score - drop) } };
    return { ...e, attrs };
  });
}

export const parseAll = (events: readonly SpanEventInput[]): SpanEvent[] => events.map((e) => spanEventSchema.parse(e));
