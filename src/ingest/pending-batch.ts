import type { KafkaMessage, Message } from 'kafkajs';

/** Offsets to commit: the next offset to read per topic-partition. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * What the ingest consumer has read but not yet written: rows for ClickHouse, messages for the
 * DLQ topic, and the highest offset per partition that all of them cover.
 */
export function createPendingBatch() {
  const high = new Map<string, TopicPartitionOffset>();
  const batch = {
    spans: [] as Record<string, unknown>[],
    /** The message behind each row of `spans` (same index): what the DLQ gets if ClickHouse refuses the row. */
    spanSources: [] as Array<{ message: KafkaMessage; topic: string; partition: number }>,
    dlqRows: [] as Record<string, unknown>[],
    dlqMessages: [] as Message[],
    /** Set once `spans` is in ClickHouse, so that a retried write of the batch does not bisect again. */
    spansWritten: false,
    /** When the first message of this batch was read (epoch ms, wall clock), 0 when empty. */
    firstAtMs: 0,
    rows(): number {
      return batch.spans.length + batch.dlqRows.length;
    },
    isEmpty(): boolean {
      return high.size === 0;
    },
    /** Records that `offset` of topic/partition is covered by this batch. */
    advance(topic: string, partition: number, offset: string): void {
      if (batch.firstAtMs === 0) batch.firstAtMs = Date.now();
      high.set(`${topic}\u0000${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    },
    commitOffsets(): TopicPartitionOffset[] {
      return [...high.values()];
    },
  };
  return batch;
}

export type PendingBatch = ReturnType<typeof createPendingBatch>;
