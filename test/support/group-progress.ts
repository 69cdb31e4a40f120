import type { Admin } from 'kafkajs';
import { parseCommitMetadata } from '../../src/engine/partition-progress.ts';

/** Next offset to read per partition. */
export type Marks = Map<number, bigint>;

/** Retries what a broker that just came back (stale leaders, a coordinator loading) refuses for a moment. */
async function patiently<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { retriable?: boolean }).retriable !== true || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The end of every partition of `topic` now: what "caught up" is measured against. */
export async function endMarks(admin: Admin, topic: string): Promise<Marks> {
  return new Map((await patiently(() => admin.fetchTopicOffsets(topic))).map((p) => [p.partition, BigInt(p.high)]));
}

/**
 * True once `ingestGroup` committed every partition of `topic` up to `marks` (its rows are in
 * ClickHouse) and `detectGroup` processed up to them (the high-water mark in its commit metadata:
 * the detect stage commits at its oldest live run, so its plain offset lags on purpose).
 */
export async function caughtUp(admin: Admin, topic: string, marks: Marks, groups: { ingest?: string; detect?: string }): Promise<boolean> {
  return patiently(() => caughtUpNow(admin, topic, marks, groups));
}

async function caughtUpNow(admin: Admin, topic: string, marks: Marks, groups: { ingest?: string; detect?: string }): Promise<boolean> {
  if (groups.ingest) {
    const [entry] = await admin.fetchOffsets({ groupId: groups.ingest, topics: [topic] });
    const at = new Map((entry?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    for (const [partition, mark] of marks) if ((at.get(partition) ?? -1n) < mark) return false;
  }
  if (groups.detect) {
    const [entry] = await admin.fetchOffsets({ groupId: groups.detect, topics: [topic] });
    const hw = new Map((entry?.partitions ?? []).map((p) => [p.partition, parseCommitMetadata(p.metadata)]));
    for (const [partition, mark] of marks) if (mark > 0n && (hw.get(partition) ?? -1n) < mark) return false;
  }
  return true;
}
