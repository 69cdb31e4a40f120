import type { Finding } from '../contracts/finding.ts';
import type { SpanEvent, SpanLimits } from '../contracts/span.ts';
import { initialStepCapState, stepCap, type StepCapState, type StepCaps } from '../../detectors/step-cap.ts';
import { initialToolLoopState, toolLoop, type ToolLoopState } from '../../detectors/tool-loop.ts';
import { effectiveCaps } from '../policy/effective-caps.ts';
import type { Policy } from '../policy/policy.ts';
import type { AgentPolicy, RunsPolicy } from '../policy/policy-schema.ts';
import { resolvePolicy } from '../policy/resolve-policy.ts';

/** Per-run state of the per-run stage. Plain data: it checkpoints as JSON. */
export interface RunEntry {
  runId: string;
  agentId: string;
  tenantId: string;
  userId: string;
  /** The run_start limits once seen (they may arrive after the first steps). */
  limits?: SpanLimits;
  /** Policy caps tightened by `limits`. */
  caps: StepCaps;
  stepCapState: StepCapState;
  toolLoopState: ToolLoopState;
  /** Latest event time seen for the run (ms). */
  lastSeenMs: number;
  /** Event time of its run_end (ms), if any. */
  endedAtMs?: number;
}

export type EvictReason = 'ended' | 'idle' | 'capacity';

export interface RunTableOptions {
  policy: Policy;
  /** Overrides `policy.runs`. */
  runs?: Partial<RunsPolicy>;
  /**
   * Evict expired runs against the newest event time seen after every `apply` (default true).
   * The check looks at the oldest entries only, so it costs O(1) amortised.
   */
  autoEvict?: boolean;
  /** Called for every evicted run, e.g. to write its one row per run. */
  onEvict?: (entry: Readonly<RunEntry>, reason: EvictReason) => void;
  /** Entries from a checkpoint, least recently seen first. */
  restore?: readonly RunEntry[];
}

export interface RunTable {
  /** Routes one event to its run's detectors; returns their findings in the order they arose. */
  apply(event: SpanEvent): Finding[];
  /** Drops runs ended more than `grace_after_end` ago or idle for `idle_timeout`, as of `nowMs` (event time). Returns how many. */
  evict(nowMs: number): number;
  get(runId: string): Readonly<RunEntry> | undefined;
  /** Live runs, least recently seen first (for a checkpoint). */
  snapshot(): RunEntry[];
  readonly size: number;
  /** The newest event time applied so far (ms); the clock `autoEvict` uses. */
  readonly watermarkMs: number;
}

/**
 * Bounded per-run state. O(1) per event: a Map kept in least-recently-seen order (delete and
 * re-insert on every event) plus a Map of ended runs in run_end order; eviction pops from their
 * heads. Arrival order and event time agree up to the few seconds of disorder SPEC §1 allows, so
 * a head that is not yet expired stops the scan; a slightly later one waits for the next call.
 *
 * Out-of-order runs: an event for an unknown run opens it with the agent's policy caps; a late
 * run_start then tightens them and is evaluated at once. An event for a run already evicted
 * reopens it with fresh counters — its findings then carry the same deterministic ids as before,
 * so downstream dedup by finding_id / command_id absorbs any repeat.
 */
export function createRunTable(options: RunTableOptions): RunTable {
  const { policy } = options;
  const limits: RunsPolicy = { ...policy.runs, ...options.runs };
  const autoEvict = options.autoEvict ?? true;
  const runs = new Map<string, RunEntry>();
  const ended = new Map<string, number>();
  let watermarkMs = 0;

  for (const e of options.restore ?? []) {
    runs.set(e.runId, e);
    if (e.endedAtMs !== undefined) ended.set(e.runId, e.endedAtMs);
    watermarkMs = Math.max(watermarkMs, e.lastSeenMs);
  }

  const remove = (entry: RunEntry, reason: EvictReason) => {
    runs.delete(entry.runId);
    ended.delete(entry.runId);
    options.onEvict?.(entry, reason);
  };

  const open = (event: SpanEvent, agent: AgentPolicy): RunEntry => ({
    runId: event.run_id,
    agentId: event.agent_id,
    tenantId: event.tenant_id,
    userId: event.user_id,
    caps: effectiveCaps(agent),
    stepCapState: initialStepCapState(),
    toolLoopState: initialToolLoopState(),
    lastSeenMs: event.ts,
  });

  function evict(nowMs: number): number {
    let n = 0;
    for (const [runId, endedAtMs] of ended) {
      const entry = runs.get(runId);
      if (!entry) {
        ended.delete(runId);
        continue;
      }
      if (endedAtMs + limits.grace_after_end > nowMs) break;
      remove(entry, 'ended');
      n++;
    }
    for (const entry of runs.values()) {
      if (entry.lastSeenMs + limits.idle_timeout > nowMs) break;
      remove(entry, entry.endedAtMs === undefined ? 'idle' : 'ended');
      n++;
    }
    return n;
  }

  function apply(event: SpanEvent): Finding[] {
    // The entry's agent decides the policy: a run belongs to the agent of its first event.
    const existing = runs.get(event.run_id);
    const agent = resolvePolicy(policy, existing?.agentId ?? event.agent_id);
    const entry = existing ?? open(event, agent);
    runs.delete(event.run_id);
    runs.set(event.run_id, entry);
    entry.lastSeenMs = Math.max(entry.lastSeenMs, event.ts);

    if (event.kind === 'run_start' && event.limits && entry.limits === undefined) {
      entry.limits = event.limits;
      entry.caps = effectiveCaps(agent, event.limits);
    }
    if (event.kind === 'run_end' && entry.endedAtMs === undefined) {
      entry.endedAtMs = event.ts;
      ended.set(entry.runId, event.ts);
    }

    const findings: Finding[] = [];
    if (agent.step_cap.enabled) {
      const r = stepCap(entry.stepCapState, event, { caps: entry.caps, prices: policy.pricing, now: event.ts });
      entry.stepCapState = r.state;
      findings.push(...r.findings);
    }
    if (agent.tool_loop.enabled) {
      const r = toolLoop(entry.toolLoopState, event, { params: agent.tool_loop, now: event.ts });
      entry.toolLoopState = r.state;
      findings.push(...r.findings);
    }

    watermarkMs = Math.max(watermarkMs, event.ts);
    if (runs.size > limits.max_runs) {
      const oldest = runs.values().next().value;
      if (oldest && oldest !== entry) remove(oldest, 'capacity');
    }
    if (autoEvict) evict(watermarkMs);
    return findings;
  }

  return {
    apply,
    evict,
    get: (runId) => runs.get(runId),
    snapshot: () => [...runs.values()].map((e) => structuredClone(e)),
    get size() {
      return runs.size;
    },
    get watermarkMs() {
      return watermarkMs;
    },
  };
}
