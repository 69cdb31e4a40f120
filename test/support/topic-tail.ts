import type { Admin, Consumer, Kafka } from 'kafkajs';
import { uniqueName } from './services.ts';

export interface TopicTail {
  /** Every message value read so far, in the order read (each offset once). */
  readonly values: readonly Buffer[];
  /** Resolves once every message up to the topic's current end is read; throws after `timeoutMs`. */
  readToEnd(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Behind the end with nothing read for this long: the consumer is replaced (ms). */
const STALL_MS = 15_000;

/**
 * Follows a (non-transactional) topic from its beginning for the length of a test, so that a
 * check of "everything so far" costs a poll rather than a fresh consumer group per check.
 *
 * A kafkajs consumer can stay silent after its broker restarts (tulios/kafkajs#267, #659: no
 * crash event, no fetch). The tail does not trust it: when it is behind the end and has read
 * nothing for `STALL_MS`, or it crashed, it is replaced by a fresh one that re-reads from the
 * beginning and skips every offset already read.
 */
export async function tailTopic(kafka: Kafka, topic: string): Promise<TopicTail> {
  const admin = kafka.admin();
  const values: Buffer[] = [];
  /** Next offset to read, per partition. */
  const next = new Map<number, bigint>();
  let lastReadAt = Date.now();
  let consumer: Consumer | undefined;
  let crashed = false;
  let stopped = false;

  async function follow(): Promise<void> {
    const c = kafka.consumer({ groupId: uniqueName('tail'), maxWaitTimeInMs: 200 });
    consumer = c;
    crashed = false;
    c.on(c.events.CRASH, () => {
      crashed = true;
    });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        const offset = BigInt(message.offset);
        if (offset < (next.get(partition) ?? 0n)) return; // read before a replacement
        values.push(message.value ?? Buffer.alloc(0));
        next.set(partition, offset + 1n);
        lastReadAt = Date.now();
      },
    });
  }

  async function replace(): Promise<void> {
    const old = consumer;
    consumer = undefined;
    await old?.disconnect().catch(() => undefined);
    if (stopped) return;
    lastReadAt = Date.now();
    await follow();
  }

  await admin.connect();
  await follow();
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
        if (crashed || Date.now() - lastReadAt > STALL_MS) {
          try {
            await replace();
          } catch (err) {
            if (Date.now() > deadline) throw err;
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      stopped = true;
      await Promise.allSettled([consumer?.disconnect(), admin.disconnect()]);
    },
  };
}
