import type { SpanEventInput } from '../contracts/span.ts';
import { createRng } from './prng.ts';

/** What a simulated run was made to do: the ground truth the detectors are scored against. */
export type RunBehaviour = 'normal' | 'tool_loop' | 'step_cap' | 'token_spike';

export interface FleetOptions {
  seed?: number;
  /** Event time of the first run (epoch ms). */
  startMs?: number;
  runs?: number;
  agents?: number;
  tenants?: number;
  usersPerTenant?: number;
  /** Mean gap between run starts (ms). */
  runGapMs?: number;
  /** Share of runs that misbehave (split evenly over the runaway kinds). */
  runawayShare?: number;
}

export interface SimulatedRun {
  runId: string;
  agentId: string;
  tenantId: string;
  userId: string;
  behaviour: RunBehaviour;
}

export interface SimulatedFleet {
  runs: SimulatedRun[];
  /** Every event, in event-time order. */
  events: SpanEventInput[];
}

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'] as const;
const TOOLS = ['search', 'fetch_url', 'read_file', 'sql_query', 'send_email'] as const;
const RUNAWAYS: RunBehaviour[] = ['tool_loop', 'step_cap', 'token_spike'];

/**
 * A synthetic fleet of agent runs with injected runaways: endless tool loops, runs that blow
 * through the LLM-call cap, and token spikes. Deterministic for a given seed.
 */
export function simulateFleet(options: FleetOptions = {}): SimulatedFleet {
  const rng = createRng(options.seed ?? 42);
  const start = options.startMs ?? Date.UTC(2026, 0, 1);
  const nRuns = options.runs ?? 200;
  const agents = options.agents ?? 3;
  const tenants = options.tenants ?? 4;
  const users = options.usersPerTenant ?? 5;
  const gap = options.runGapMs ?? 2_000;
  const share = options.runawayShare ?? 0.05;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
  const runs: SimulatedRun[] = [];
  const events: SpanEventInput[] = [];
  let seq = 0;

  for (let i = 0; i < nRuns; i++) {
    const tenant = Math.floor(rng() * tenants);
    const run: SimulatedRun = {
      runId: `run-${String(i).padStart(6, '0')}`,
      agentId: `agent-${Math.floor(rng() * agents)}`,
      tenantId: `tenant-${tenant}`,
      userId: `user-${tenant}-${Math.floor(rng() * users)}`,
      behaviour: rng() < share ? pick(RUNAWAYS) : 'normal',
    };
    runs.push(run);
    const model = pick(MODELS);
    const attrs = { model_version: model === 'gpt-4o' ? 'v2' : 'v1', prompt_hash: 'p1', plan_tier: tenant % 2 ? 'pro' : 'free', env: 'sim' };
    let ts = start + i * gap + Math.floor(rng() * gap);
    const base = () => ({
      schema: 'runwarden.span/v1' as const,
      event_id: `evt-${String(++seq).padStart(8, '0')}`,
      ts,
      run_id: run.runId,
      span_id: `s${seq}`,
      parent_span_id: `root-${run.runId}`,
      agent_id: run.agentId,
      tenant_id: run.tenantId,
      user_id: run.userId,
      attrs,
    });
    const step = () => (ts += 200 + Math.floor(rng() * 1_500));
    events.push({ ...base(), span_id: `root-${run.runId}`, kind: 'run_start' });
    const llm = (tokens: number) => {
      step();
      const input = Math.floor(tokens * (0.6 + rng() * 0.3));
      events.push({ ...base(), kind: 'llm_call', llm: { model, input_tokens: input, output_tokens: tokens - input, latency_ms: 300 + Math.floor(rng() * 900) } });
    };
    const tool = (name: string, args: string) => {
      step();
      events.push({ ...base(), kind: 'tool_call', tool: { name, args_hash: args, status: rng() < 0.03 ? 'error' : 'ok', duration_ms: 50 + Math.floor(rng() * 400) } });
    };
    const steps = run.behaviour === 'step_cap' ? 45 : 2 + Math.floor(rng() * 5);
    for (let s = 0; s < steps; s++) {
      llm(run.behaviour === 'token_spike' && s === 1 ? 150_000 : 800 + Math.floor(rng() * 2_500));
      if (run.behaviour === 'tool_loop' && s === 1) {
        for (let k = 0; k < 12; k++) tool('search', 'same-args');
      } else if (rng() < 0.7) {
        tool(pick(TOOLS), `a${Math.floor(rng() * 1e6)}`);
      }
    }
    step();
    events.push({ ...base(), kind: 'judge_score', judge: { score: Math.min(1, Math.max(0, 0.8 + (rng() - 0.5) * 0.3)), rubric: 'helpfulness' } });
    step();
    events.push({ ...base(), span_id: `root-${run.runId}`, kind: 'run_end', status: rng() < 0.04 ? 'error' : 'ok' });
  }
  events.sort((a, b) => (a.ts as number) - (b.ts as number));
  return { runs, events };
}
