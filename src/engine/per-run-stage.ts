import type { ControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';
import type { SpanEvent } from '../contracts/span.ts';
import { commandForFinding } from '../control/commands.ts';
import { signCommand, type KeyRing } from '../control/sign.ts';
import { createDedupCache } from '../ingest/dedup.ts';
import type { Policy } from '../policy/policy.ts';
import { resolvePolicy } from '../policy/resolve-policy.ts';
import { createRunTable, type EvictReason, type RunEntry, type RunTable } from '../runs/run-table.ts';

/** One finding and the signed command it calls for (none for an `info` finding). */
export interface Emission {
  finding: Finding;
  command?: ControlCommand;
}

export interface PerRunStageOptions {
  policy: Policy;
  keyRing: KeyRing;
  /** Duplicate event ids are remembered this long in event time (ms, default 1 h). */
  dedupTtlMs?: number;
  /** Most event ids remembered (default 200,000). */
  dedupMaxEntries?: number;
  onEvict?: (entry: Readonly<RunEntry>, reason: EvictReason) => void;
}

export interface PerRunStage {
  /**
   * Applies one validated event: per-run detectors (step-cap, tool-loop) through the run table,
   * then the signed command each finding calls for. A duplicate `event_id` changes nothing.
   */
  apply(event: SpanEvent): Emission[];
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
  const runs = createRunTable({ policy, ...(options.onEvict ? { onEvict: options.onEvict } : {}) });
  let duplicates = 0;

  function apply(event: SpanEvent): Emission[] {
    if (dedup.seen(event.event_id, event.ts)) {
      duplicates++;
      return [];
    }
    // The run's agent decides the policy, as in the run table: the agent of its first event.
    const agentId = runs.get(event.run_id)?.agentId ?? event.agent_id;
    return runs.apply(event).map((finding) => {
      const unsigned = commandForFinding(finding, resolvePolicy(policy, agentId));
      return unsigned ? { finding, command: signCommand(unsigned, keyRing) } : { finding };
    });
  }

  return {
    apply,
    runs,
    get duplicates() {
      return duplicates;
    },
  };
}
