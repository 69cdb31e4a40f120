import type { Kafka } from 'kafkajs';
import { uniqueName } from './services.ts';

export interface ReadMessage {
  key: string | null;
  value: Buffer;
  headers: Record<string, string | undefined>;
  partition: number;
  offset: string;
}

/** Reads `count` messages of `topic` from the beginning (a fresh group), or throws after `timeoutMs`. */
export async function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs: number): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: ReadMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${count} messages from ${topic} in ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            const headers: Record<string, string | undefined> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = v?.toString();
            out.push({ key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0), headers, partition, offset: message.offset });
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Every message currently in `topic` (up to its end offsets when called). */
export async function readTopicToEnd(kafka: Kafka, topic: string, timeoutMs: number): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  let count = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) count += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  return count === 0 ? [] : readTopic(kafka, topic, count, timeoutMs);
}
