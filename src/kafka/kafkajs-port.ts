import { createRequire } from 'node:module';
import type { Producer } from 'kafkajs';
import { createKafka } from './client.ts';
import type { KafkaPort, KafkaPortOptions } from './port.ts';

const version = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;

/** The Kafka port over kafkajs (the client the product uses): eachBatch consumers, one idempotent-free producer with acks=-1. */
export function createKafkajsPort(options: KafkaPortOptions): KafkaPort {
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId, ssl: false });
  let producer: Producer | undefined;
  let connecting: Promise<void> | undefined;
  return {
    name: `kafkajs ${version}`,
    async produce(topic, records) {
      if (!producer) {
        producer = kafka.producer();
        connecting = producer.connect();
      }
      await connecting;
      await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value })) });
    },
    async consume(o) {
      const consumer = kafka.consumer({ groupId: o.groupId, maxBytesPerPartition: o.maxBytesPerPartition ?? 4 * 1024 * 1024, maxWaitTimeInMs: o.maxWaitMs ?? 500 });
      await consumer.connect();
      await consumer.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const p = batch.partition;
          await o.onBatch(batch.messages.map((m) => ({ key: m.key, value: m.value, partition: p, offset: m.offset })));
        },
      });
      return { stop: () => consumer.disconnect() };
    },
    async close() {
      await producer?.disconnect();
    },
  };
}
