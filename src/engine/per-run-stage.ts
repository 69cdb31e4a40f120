import type { SpanEvent } from '../contracts/span.ts';
import type { KeyRing } from '../control/sign.ts';
import { createDedupCache } from '../ingest/dedup.ts';
import type { Policy } from '../policy/policy.ts';
import { resolvePolicy } from '../policy/resolve-policy.ts';
import { createRunTable, type EvictReason, type RunEntry, type RunTable } from '../runs/run-table.ts';
import type { CohortPartial } from '../windows/cohort-partial.ts';
import { emissionOf, type Emission } from './emission.ts';
import { createPartialFeed } from './partial-feed.ts';

export type { Emission };

export interface PerRunStageOptions {
  policy: Policy;
  keyRing: KeyRing;
  /** Duplicate event ids are remembered this long in event time (ms, default 1 h). */
  dedupTtlMs?: number;
  /** Most event ids remembered (default 200,000). */
  dedupMaxEntries?: number;
  onEvict?: (entry: Readonly<RunEntry>, reason: EvictReason) => void;
  /**
   * Also build the cohort partials of every applied event (src/engine/partial-feed.ts), coalesced
   * per (view, cohort, minute) until `drainPartials()`. Off by default: a caller that never drains
   * must not buffer.
   */
  partials?: boolean;
}

export interface PerRunStage {
  /**
   * Applies one validated event: per-run detectors (step-cap, tool-loop) through the run table,
   * then the signed command each finding calls for. A duplicate `event_id` changes nothing.
   */
  apply(event: SpanEvent): Emission[];
  /**
   * The cohort partials built since the last call, in the order first built ([] unless the stage
   * was created with `partials: true`). Forward each keyed by `partialRoutingKey`.
   */
  drainPartials(): CohortPartial[];
  readonly runs: RunTable;
  /** Events dropped as duplicates. */
  readonly duplicates: number;
}

/**
 * The per-run stage, free of I/O: the pipeline consumer runs one per partition, `runwarden
 * replay` one for the whole input, so production and replay run the very same code. Time is the
 * events' own time; the signature is deterministic (HMAC of the canonical command), so the same
 * input always yields byte-identical commands.
 */
export function createPerRunStage(options: PerRunStageOptions): PerRunStage {
  const { policy, keyRing } = options;
  const dedup = createDedupCache({ maxEntries: options.dedupMaxEntries ?? 200_000, ttlMs: options.dedupTtlMs ?? 3_600_000 });
  const feed = options.partials ? createPartialFeed({ cohorts: policy.cohorts, pricing: policy.pricing }) : undefined;
  const onEvict =
    feed === undefined
      ? options.onEvict
      : (entry: Readonly<RunEntry>, reason: EvictReason) => {
          feed.evicted(entry);
          options.onEvict?.(entry, reason);
        };
  const runs = createRunTable({ policy, ...(onEvict ? { onEvict } : {}) });
  let duplicates = 0;

  function apply(event: SpanEvent): Emission[] {
    if (dedup.seen(event.event_id, event.ts)) {
      duplicates++;
      return [];
    }
    const run = runs.get(event.run_id);
    // Before the run table: a late run_end can evict its own run within this very call.
    feed?.event(event, event.kind === 'run_end' && run?.endedAtMs === undefined);
    // The run's agent decides the policy, as in the run table: the agent of its first event.
    const agentId = run?.agentId ?? event.agent_id;
    return runs.apply(event).map((finding) => emissionOf(finding, resolvePolicy(policy, agentId), keyRing));
  }

  return {
    apply,
    drainPartials: () => feed?.drain() ?? [],
    runs,
    get duplicates() {
      return duplicates;
    },
  };
}
