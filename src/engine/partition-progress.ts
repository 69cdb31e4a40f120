/**
 * Where a partition of agent.spans may be committed, so that a restart rebuilds run state exactly
 * without a separate checkpoint store.
 *
 * Per-run state is a function of a run's events, and every event of a run lives in one partition
 * (key = run_id). So the partition is the changelog: committing at the first offset of the oldest
 * run still live means a restarted (or newly assigned) consumer re-reads every event of every
 * live run and rebuilds their state exactly. The commit's metadata carries the high-water mark,
 * the next offset not yet processed: events below it were already processed and their findings
 * and commands already sent and written, so they are re-applied silently ("restoring"); events
 * from it on are processed as new. Nothing is emitted twice and nothing is missed. The cost of a
 * restart is re-reading up to the run idle timeout's worth of a partition.
 */
export interface PartitionProgress {
  /** True while re-reading events that were processed before the restart. */
  isRestoring(offset: bigint): boolean;
  /** A run's first event was at `offset` (call when the run table opens the run). */
  opened(runId: string, offset: bigint): void;
  /** The run's state was evicted: its events are no longer needed for a restore. */
  evicted(runId: string): void;
  /** Every event up to and including `offset` has been processed and its output delivered. */
  processed(offset: bigint): void;
  /** The offset to commit and its metadata (the high-water mark). Undefined before any event. */
  commitPoint(): { offset: string; metadata: string } | undefined;
  readonly liveRuns: number;
}

const METADATA_VERSION = 1;

/** Reads the high-water mark from a commit's metadata; undefined when absent or not ours. */
export function parseCommitMetadata(metadata: string | null | undefined): bigint | undefined {
  if (!metadata) return undefined;
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; hw?: unknown };
    if (parsed.v !== METADATA_VERSION || typeof parsed.hw !== 'string' || !/^\d{1,19}$/.test(parsed.hw)) return undefined;
    return BigInt(parsed.hw);
  } catch {
    return undefined;
  }
}

/** `restoreUntil`: the high-water mark found in the committed metadata (events below it were processed). */
export function createPartitionProgress(restoreUntil: bigint | undefined): PartitionProgress {
  const firstOffsets = new Map<string, bigint>();
  // The live runs in the order they opened, which is offset order (offsets only grow): a queue with
  // stale entries (evicted runs) skipped at the head. Not the Map's own order: V8 leaves deleted
  // entries as holes until it rehashes, and `values().next()` walks every one of them — ~250 µs
  // per commit point at 100k live runs, and evicted runs leave their holes at the front.
  let queueIds: string[] = [];
  let queueOffsets: bigint[] = [];
  let head = 0;
  let next: bigint | undefined;

  function oldest(): bigint | undefined {
    while (head < queueIds.length) {
      const offset = queueOffsets[head] as bigint;
      // Live, and not an older opening of a run evicted and opened again since.
      if (firstOffsets.get(queueIds[head] as string) === offset) break;
      head++;
    }
    if (head > 1_024 && head * 2 > queueIds.length) {
      queueIds = queueIds.slice(head);
      queueOffsets = queueOffsets.slice(head);
      head = 0;
    }
    return head < queueIds.length ? queueOffsets[head] : undefined;
  }

  return {
    isRestoring: (offset) => restoreUntil !== undefined && offset < restoreUntil,
    opened(runId, offset) {
      if (firstOffsets.has(runId)) return;
      firstOffsets.set(runId, offset);
      queueIds.push(runId);
      queueOffsets.push(offset);
    },
    evicted(runId) {
      firstOffsets.delete(runId);
    },
    processed(offset) {
      if (next === undefined || offset + 1n > next) next = offset + 1n;
    },
    commitPoint() {
      if (next === undefined) return undefined;
      const first = oldest();
      // Never move the high-water mark back: a restart that has not yet re-read up to it keeps it.
      const hw = restoreUntil !== undefined && restoreUntil > next ? restoreUntil : next;
      return { offset: String(first ?? next), metadata: JSON.stringify({ v: METADATA_VERSION, hw: String(hw) }) };
    },
    get liveRuns() {
      return firstOffsets.size;
    },
  };
}
