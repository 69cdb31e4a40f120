import { readFileSync } from 'node:fs';
import { Consumer, Producer } from '@platformatic/kafka';
import type { KafkaPort, KafkaPortOptions, PortMessage } from './port.ts';

// The package exports no ./package.json; its entry is dist/index.js, one level below it.
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@platformatic/kafka')), 'utf8')) as { version: string };

/**
 * The Kafka port over @platformatic/kafka (1.35.x supports Node 20.19+). Its consumer is a stream
 * of single messages: they are gathered into a batch until the stream has pushed what it holds
 * (a microtask later), and the stream pauses while `onBatch` works on them.
 */
export function createPlatformaticPort(options: KafkaPortOptions): KafkaPort {
  let producer: Producer | undefined;
  return {
    name: `@platformatic/kafka ${version}`,
    async produce(topic, records) {
      producer ??= new Producer({ clientId: options.clientId, bootstrapBrokers: options.brokers, acks: -1 });
      await producer.send({
        acks: -1,
        messages: records.map((r) => ({
          topic,
          key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key,
          value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
        })),
      });
    },
    async consume(o) {
      const consumer = new Consumer({ clientId: options.clientId, bootstrapBrokers: options.brokers, groupId: o.groupId });
      const stream = await consumer.consume({
        topics: [o.topic],
        mode: 'committed',
        fallbackMode: o.fromBeginning === false ? 'latest' : 'earliest',
        autocommit: false,
        maxBytesPerPartition: o.maxBytesPerPartition ?? 4 * 1024 * 1024,
        maxBytes: 64 * 1024 * 1024,
        maxWaitTime: o.maxWaitMs ?? 500,
        // Messages the stream may hold before it stops fetching (default 1,024): room for a fetch of every partition.
        highWaterMark: 16_384,
      });
      let batch: PortMessage[] = [];
      let scheduled = false;
      const flush = () => {
        scheduled = false;
        const messages = batch;
        batch = [];
        const done = o.onBatch(messages);
        if (done instanceof Promise) {
          stream.pause();
          void done.finally(() => stream.resume());
        }
      };
      stream.on('data', (m) => {
        batch.push({ key: m.key ?? null, value: m.value ?? null, partition: m.partition, offset: m.offset.toString() });
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
      });
      return {
        async stop() {
          await stream.close();
          await consumer.close(true);
        },
      };
    },
    async close() {
      await producer?.close();
    },
  };
}
