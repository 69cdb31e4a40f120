import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

/** Reading a state topic did not reach its end in time. */
export class StateTopicTimeoutError extends Error {
  override readonly name = 'StateTopicTimeoutError';
}

export interface LatestByKeyOptions {
  /** Give up after this long (ms). An open transaction of a crashed writer holds read_committed readers until it times out. */
  timeoutMs: number;
  /** Only keys for which this returns true are kept (e.g. the partitions this process owns). */
  keep?: (key: string) => boolean;
  /** Prefix of the throwaway consumer group (deleted afterwards). */
  groupPrefix?: string;
}

/**
 * The latest committed value of every key of a compacted topic, read from the beginning to the
 * end offsets the topic had when called; a tombstone (null value) deletes its key. Reads with
 * read_committed, so values of aborted transactions never count. kafkajs has no group-less
 * consumer: a throwaway group reads and is deleted.
 *
 * The end is detected from kafkajs's END_BATCH_PROCESS events, which also fire for batches of
 * control records only (a transaction's commit marker is often the last offset of a partition).
 */
export async function readLatestByKey(kafka: Kafka, topic: string, options: LatestByKeyOptions): Promise<Map<string, Buffer>> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${options.groupPrefix ?? 'runwarden'}-state-reader-${randomUUID().slice(0, 8)}`;
  const latest = new Map<string, Buffer>();
  try {
    const ends = new Map<number, bigint>();
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high) - 1n);
    }
    if (ends.size === 0) return latest;

    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, readUncommitted: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const reached = (partition: number, lastOffset: string | null | undefined) => {
          const end = ends.get(partition);
          if (end !== undefined && lastOffset != null && BigInt(lastOffset) >= end) ends.delete(partition);
          if (ends.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(
          () => reject(new StateTopicTimeoutError(`reading ${topic} did not reach its end within ${options.timeoutMs} ms (partitions left: ${[...ends.keys()].join(', ')})`)),
          options.timeoutMs,
        );
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
        consumer
          .run({
            eachMessage: async ({ message }) => {
              const key = message.key?.toString();
              if (key === undefined || (options.keep && !options.keep(key))) return;
              if (message.value === null) latest.delete(key);
              else latest.set(key, message.value);
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    await admin.deleteGroups([groupId]).catch(() => undefined);
    return latest;
  } finally {
    await admin.disconnect();
  }
}
