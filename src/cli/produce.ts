import type { Kafka } from 'kafkajs';

/** Produces keyed messages in batches of 1,000 with acks from all in-sync replicas. */
export async function produceEvents(kafka: Kafka, topic: string, messages: Array<{ key: string; value: string }>): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1_000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1_000) });
    }
  } finally {
    await producer.disconnect();
  }
}
