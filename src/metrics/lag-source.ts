import type { Admin } from 'kafkajs';
import { parseCommitMetadata } from '../engine/partition-progress.ts';
import type { PartitionLagSample } from './warden-metrics.ts';

/** A group and the topic it consumes. */
export interface WatchedGroup {
  group: string;
  topic: string;
}

export interface LagSourceOptions {
  admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>;
  groups: readonly WatchedGroup[];
  /** A reading is reused this long (ms, default 5,000): several scrapers must not multiply admin requests. */
  cacheMs?: number;
  /** A reading that takes longer is abandoned and the previous one served (ms, default 3,000). */
  timeoutMs?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

type TopicEnds = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
type GroupOffsets = Awaited<ReturnType<Admin['fetchOffsets']>>;

/**
 * Per-partition lag of one group from the topic's end offsets and the group's commits. The
 * position is the committed offset, or the processed high-water mark in the commit's metadata
 * when it is further (the detect stage commits at its oldest live run's first event, so its
 * committed offset trails what it has processed by design). No commit yet: lag from the low mark.
 */
export function partitionLags(watched: WatchedGroup, ends: TopicEnds, committed: GroupOffsets): PartitionLagSample[] {
  const position = new Map<number, bigint>();
  for (const t of committed) {
    if (t.topic !== watched.topic) continue;
    for (const p of t.partitions) {
      const offset = BigInt(p.offset);
      const hw = parseCommitMetadata(p.metadata);
      if (offset >= 0n) position.set(p.partition, hw !== undefined && hw > offset ? hw : offset);
    }
  }
  return ends.map((p) => {
    const at = position.get(p.partition) ?? BigInt(p.low);
    const lag = BigInt(p.high) - at;
    return { group: watched.group, topic: watched.topic, partition: p.partition, lag: lag > 0n ? Number(lag) : 0 };
  });
}

/** Reads every watched group's lag on demand (at scrape time), cached and bounded in time. */
export function createLagSource(options: LagSourceOptions): () => Promise<readonly PartitionLagSample[]> {
  const { admin, groups } = options;
  const cacheMs = options.cacheMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const now = options.now ?? Date.now;
  let last: readonly PartitionLagSample[] = [];
  let readAtMs = -Infinity;
  let reading: Promise<readonly PartitionLagSample[]> | undefined;

  async function read(): Promise<readonly PartitionLagSample[]> {
    const out: PartitionLagSample[] = [];
    for (const watched of groups) {
      const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(watched.topic), admin.fetchOffsets({ groupId: watched.group, topics: [watched.topic] })]);
      out.push(...partitionLags(watched, ends, committed));
    }
    return out;
  }

  return async () => {
    if (now() - readAtMs < cacheMs) return last;
    reading ??= read().finally(() => (reading = undefined));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`consumer lag not read within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      last = await Promise.race([reading, timeout]);
      readAtMs = now();
    } catch (err) {
      options.onError?.(err);
    } finally {
      clearTimeout(timer);
    }
    return last;
  };
}
