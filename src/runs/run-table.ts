import type { Finding } from '../contracts/finding.ts';
import type { SpanEvent, SpanLimits } from '../contracts/span.ts';
import { initialStepCapState, stepCap, type StepCapState, type StepCaps } from '../../detectors/step-cap.ts';
import { initialToolLoopState, toolLoop, type ToolLoopState } from '../../detectors/tool-loop.ts';
import { effectiveCaps } from '../policy/effective-caps.ts';
import type { Policy } from '../policy/policy.ts';
import type { AgentPolicy, RunsPolicy } from '../policy/policy-schema.ts';
import { resolvePolicy } from '../policy/resolve-policy.ts';
import { createMinHeap } from './min-heap.ts';

/** Per-run state of the per-run stage. Plain data: it checkpoints as JSON. */
export interface RunEntry {
  runId: string;
  agentId: string;
  tenantId: string;
  userId: string;
  /** The run_start limits once seen (they may arrive after the first steps). */
  limits?: SpanLimits;
  /** Policy caps tightened by `limits`: frozen, shared by every run of the agent with the same effective caps. */
  caps: Readonly<StepCaps>;
  stepCapState: StepCapState;
  /** Updated in place by the tool-loop detector (it owns the state): `snapshot()` clones it. */
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
  /** Entries from a checkpoint (`snapshot()`), least recently seen first. */
  restore?: readonly RunEntry[];
  /**
   * The table's `watermarkMs` at the checkpoint (ms). Defaults to the newest `lastSeenMs` of the
   * restored runs, which is lower when the newest event's run was evicted before the checkpoint.
   */
  restoreWatermarkMs?: number;
}

export interface RunTable {
  /** Routes one event to its run's detectors; returns their findings in the order they arose. */
  apply(event: SpanEvent): Finding[];
  /** Drops runs ended at least `grace_after_end` ago or idle for at least `idle_timeout`, as of `nowMs` (event time). Returns how many. */
  evict(nowMs: number): number;
  get(runId: string): Readonly<RunEntry> | undefined;
  /** Live runs, least recently seen first (for a checkpoint). */
  snapshot(): RunEntry[];
  readonly size: number;
  /** The newest event time applied so far (ms); the clock `autoEvict` uses. */
  readonly watermarkMs: number;
}

/**
 * Bounded per-run state: a Map of runs plus a doubly-linked list through them in
 * least-recently-seen order (moved to the tail on every event, O(1)) and a min-heap of ended runs
 * by run_end time (O(log n)). The list, not the Map's own order, gives the head: a Map kept in
 * order by delete-and-reinsert leaves deleted slots at its front until it rehashes, and every
 * `values().next()` walks them — ~250 µs per event at 120k live runs (bench/core-ratio.ts).
 * - Ended runs are evicted exactly when `endedAtMs + grace_after_end ≤ now`, whatever order their
 *   run_end events arrived in, so a table restored from `snapshot()` evicts them as the original.
 * - Idle runs are popped from the head of the list. Arrival order and event time agree up to the
 *   few seconds of disorder SPEC §1 allows, so a head that is not yet expired stops the scan; a
 *   slightly later one waits for the next call. The snapshot keeps that order.
 * - Past `max_runs` the least recently seen runs are dropped.
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
  /** A live run and its neighbours in least-recently-seen order (kept apart from the entry, which is plain data). */
  type Slot = { entry: RunEntry; prev: Slot | undefined; next: Slot | undefined };
  const runs = new Map<string, Slot>();
  let head: Slot | undefined;
  let tail: Slot | undefined;
  const unlink = (s: Slot) => {
    if (s.prev) s.prev.next = s.next;
    else head = s.next;
    if (s.next) s.next.prev = s.prev;
    else tail = s.prev;
    s.prev = s.next = undefined;
  };
  const append = (s: Slot) => {
    s.prev = tail;
    if (tail) tail.next = s;
    else head = s;
    tail = s;
  };
  const insert = (entry: RunEntry) => {
    const slot: Slot = { entry, prev: undefined, next: undefined };
    runs.set(entry.runId, slot);
    append(slot);
    return slot;
  };
  /** run_end time and run of every ended run; stale once the run is gone (checked on pop). */
  type Ended = { endedAtMs: number; runId: string };
  const byEnd = (a: Ended, b: Ended) => a.endedAtMs < b.endedAtMs || (a.endedAtMs === b.endedAtMs && a.runId < b.runId);
  let watermarkMs = options.restoreWatermarkMs ?? 0;

  const restored: Ended[] = [];
  for (const e of options.restore ?? []) {
    // A copy: the table mutates its entries, the checkpoint must stay as it was.
    // A repeated id keeps its first place with the later entry, as Map.set would.
    const dup = runs.get(e.runId);
    if (dup) dup.entry = structuredClone(e);
    else insert(structuredClone(e));
    if (e.endedAtMs !== undefined) restored.push({ endedAtMs: e.endedAtMs, runId: e.runId });
    watermarkMs = Math.max(watermarkMs, e.lastSeenMs);
  }
  const ended = createMinHeap(byEnd, restored);

  const remove = (slot: Slot, reason: EvictReason) => {
    runs.delete(slot.entry.runId);
    unlink(slot);
    options.onEvict?.(slot.entry, reason);
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
    for (let top = ended.peek(); top && top.endedAtMs + limits.grace_after_end <= nowMs; top = ended.peek()) {
      ended.pop();
      const slot = runs.get(top.runId);
      // Stale: the run was dropped otherwise (idle, capacity), or reopened and not ended again.
      if (slot === undefined || slot.entry.endedAtMs !== top.endedAtMs) continue;
      remove(slot, 'ended');
      n++;
    }
    while (head !== undefined && head.entry.lastSeenMs + limits.idle_timeout <= nowMs) {
      remove(head, head.entry.endedAtMs === undefined ? 'idle' : 'ended');
      n++;
    }
    return n;
  }

  function apply(event: SpanEvent): Finding[] {
    // The entry's agent decides the policy: a run belongs to the agent of its first event.
    const existing = runs.get(event.run_id);
    const agent = resolvePolicy(policy, existing?.entry.agentId ?? event.agent_id);
    let slot: Slot;
    if (existing === undefined) slot = insert(open(event, agent));
    else {
      slot = existing;
      if (slot !== tail) {
        unlink(slot);
        append(slot);
      }
    }
    const entry = slot.entry;
    entry.lastSeenMs = Math.max(entry.lastSeenMs, event.ts);

    if (event.kind === 'run_start' && event.limits && entry.limits === undefined) {
      entry.limits = event.limits;
      entry.caps = effectiveCaps(agent, event.limits);
    }
    if (event.kind === 'run_end' && entry.endedAtMs === undefined) {
      entry.endedAtMs = event.ts;
      ended.push({ endedAtMs: event.ts, runId: entry.runId });
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
    // A while, not an if: a checkpoint restored under a lower max_runs is trimmed at once.
    while (runs.size > limits.max_runs) {
      const oldest = head;
      if (!oldest || oldest === slot) break;
      remove(oldest, 'capacity');
    }
    if (autoEvict) evict(watermarkMs);
    return findings;
  }

  return {
    apply,
    evict,
    get: (runId) => runs.get(runId)?.entry,
    snapshot: () => {
      const out: RunEntry[] = [];
      for (let s = head; s !== undefined; s = s.next) out.push(structuredClone(s.entry));
      return out;
    },
    get size() {
      return runs.size;
    },
    get watermarkMs() {
      return watermarkMs;
    },
  };
}
