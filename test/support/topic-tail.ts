import type { Admin, Consumer, Kafka } from 'kafkajs';
import { uniqueName } from './services.ts';

export interface TopicTail {
  /** Every message value read so far, in the order read. */
  readonly values: readonly Buffer[];
  /** Resolves once every message up to the topic's current end is read; throws after `timeoutMs`. */
  readToEnd(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Follows a (non-transactional) topic from its beginning for the length of a test, so that a
 * check of "everything so far" costs a poll rather than a fresh consumer group per check.
 */
export async function tailTopic(kafka: Kafka, topic: string): Promise<TopicTail> {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('tail'), maxWaitTimeInMs: 200 });
  const admin = kafka.admin();
  const values: Buffer[] = [];
  /** Next offset to read, per partition. */
  const next = new Map<number, bigint>();
  await Promise.all([consumer.connect(), admin.connect()]);
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      values.push(message.value ?? Buffer.alloc(0));
      next.set(partition, BigInt(message.offset) + 1n);
    },
  });
  return {
    values,
    async readToEnd(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let ends: Awaited<ReturnType<Admin['fetchTopicOffsets']>> | undefined;
      while (!ends) {
        try {
          ends = await admin.fetchTopicOffsets(topic);
        } catch (err) {
          // A broker that just came back refuses for a moment (stale leaders).
          if ((err as { retriable?: boolean }).retriable !== true || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      while (ends.some((p) => BigInt(p.high) > (next.get(p.partition) ?? BigInt(p.low)))) {
        if (Date.now() > deadline) throw new Error(`tail of ${topic}: not at its end after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await Promise.allSettled([consumer.disconnect(), admin.disconnect()]);
    },
  };
}
