/**
 * Kafka clients side by side: kafkajs (what the product uses; no release since 2023) and
 * @platformatic/kafka, both behind the Kafka port (src/kafka/port.ts), in the same run.
 *
 * - produce: N span events (≈390 B JSON, keyed by run id) in sends of `--batch` messages with
 *   acks=-1, one send after the other, into a fresh 8-partition topic per client and trial;
 * - consume: the same N events from the beginning with a fresh group and a handler that only
 *   counts (4 MiB per partition per fetch, 500 ms max wait for both), rate from the first batch's
 *   arrival to the last message, not counting the first batch.
 * Trials alternate which client goes first. Ratios are @platformatic/kafka ÷ kafkajs.
 *
 * `node --import tsx bench/kafka-clients.ts [--events 200000] [--batch 1000] [--trials 3]`
 * (needs KAFKA_BROKERS). Prints JSON on stdout.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createKafka } from '../src/kafka/client.ts';
import { createKafkajsPort } from '../src/kafka/kafkajs-port.ts';
import { createPlatformaticPort } from '../src/kafka/platformatic-port.ts';
import type { KafkaPort, PortRecord } from '../src/kafka/port.ts';
import { ensureTopics } from '../src/kafka/topics.ts';
import { concurrentFleet } from './lib/concurrent-fleet.ts';
import { median, round } from './lib/stats.ts';

const log = (line: string) => process.stderr.write(`[kafka-clients] ${line}\n`);
const PARTITIONS = 8;

export interface ClientFigures {
  client: string;
  produce_msgs_per_s: number;
  consume_msgs_per_s: number;
  produce_msgs_per_s_samples: number[];
  consume_msgs_per_s_samples: number[];
}

export interface KafkaClientsResult {
  events: number;
  batch: number;
  trials: number;
  kafkajs: ClientFigures;
  platformatic: ClientFigures;
  /** Median @platformatic/kafka ÷ median kafkajs. */
  platformatic_vs_kafkajs_produce_ratio: number;
  platformatic_vs_kafkajs_consume_ratio: number;
}

async function produce(port: KafkaPort, topic: string, records: readonly PortRecord[], batch: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += batch) await port.produce(topic, records.slice(i, i + batch));
  return records.length / ((performance.now() - t0) / 1e3);
}

async function consume(port: KafkaPort, topic: string, total: number): Promise<number> {
  let seen = 0;
  let first: { t: number; n: number } | undefined;
  let end = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  const consumer = await port.consume({
    topic,
    groupId: `bench-clients-${randomBytes(4).toString('hex')}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitMs: 500,
    onBatch(messages) {
      seen += messages.length;
      const t = performance.now();
      // Timed from the first batch on (the group join before it is not the client's throughput).
      if (!first) first = { t, n: seen };
      if (seen >= total && end === 0) {
        end = t;
        finish();
      }
    },
  });
  const timer = setTimeout(() => finish(), 10 * 60_000);
  await done;
  clearTimeout(timer);
  await consumer.stop();
  if (!first || end === 0) throw new Error(`${port.name}: consumed ${seen} of ${total} messages within 10 minutes`);
  return (seen - first.n) / ((end - first.t) / 1e3);
}

export async function benchKafkaClients(o: { events: number; batch: number; trials: number }): Promise<KafkaClientsResult> {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const prefix = `bench-clients-${randomBytes(4).toString('hex')}`;
  const kafka = createKafka({ brokers, clientId: 'bench-clients-admin', ssl: false });
  const admin = kafka.admin();
  await admin.connect();
  const records: PortRecord[] = [];
  for (const e of concurrentFleet({ events: o.events, concurrency: 10_000, seed: 3, startMs: Date.now() - o.events })) records.push({ key: e.run_id, value: JSON.stringify(e) });
  const ports = { kafkajs: createKafkajsPort({ brokers, clientId: 'bench-kafkajs' }), platformatic: createPlatformaticPort({ brokers, clientId: 'bench-platformatic' }) };
  const figures = { kafkajs: { produce: [] as number[], consume: [] as number[] }, platformatic: { produce: [] as number[], consume: [] as number[] } };
  const topics: string[] = [];
  try {
    for (let t = 0; t < o.trials; t++) {
      const order = (t % 2 === 0 ? ['kafkajs', 'platformatic'] : ['platformatic', 'kafkajs']) as Array<keyof typeof ports>;
      const produced: Partial<Record<keyof typeof ports, string>> = {};
      for (const name of order) {
        const topic = `${prefix}.${t}.${name}`;
        await ensureTopics(kafka, [{ topic, numPartitions: PARTITIONS }]);
        topics.push(topic);
        figures[name].produce.push(await produce(ports[name], topic, records, o.batch));
        produced[name] = topic;
      }
      // Both consume the same topic (the one kafkajs filled), fresh groups.
      for (const name of order) figures[name].consume.push(await consume(ports[name], produced.kafkajs as string, records.length));
      log(
        `trial ${t + 1}: produce kafkajs ${Math.round(figures.kafkajs.produce[t] as number)}, platformatic ${Math.round(figures.platformatic.produce[t] as number)} msgs/s; ` +
          `consume kafkajs ${Math.round(figures.kafkajs.consume[t] as number)}, platformatic ${Math.round(figures.platformatic.consume[t] as number)} msgs/s`,
      );
    }
  } finally {
    await Promise.allSettled([ports.kafkajs.close(), ports.platformatic.close()]);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  const fig = (name: keyof typeof ports): ClientFigures => ({
    client: ports[name].name,
    produce_msgs_per_s: Math.round(median(figures[name].produce)),
    consume_msgs_per_s: Math.round(median(figures[name].consume)),
    produce_msgs_per_s_samples: figures[name].produce.map(Math.round),
    consume_msgs_per_s_samples: figures[name].consume.map(Math.round),
  });
  const kafkajs = fig('kafkajs');
  const platformatic = fig('platformatic');
  return {
    events: records.length,
    batch: o.batch,
    trials: o.trials,
    kafkajs,
    platformatic,
    platformatic_vs_kafkajs_produce_ratio: round(platformatic.produce_msgs_per_s / kafkajs.produce_msgs_per_s, 3),
    platformatic_vs_kafkajs_consume_ratio: round(platformatic.consume_msgs_per_s / kafkajs.consume_msgs_per_s, 3),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' }, batch: { type: 'string', default: '1000' }, trials: { type: 'string', default: '3' } } });
  process.stdout.write(`${JSON.stringify(await benchKafkaClients({ events: Number(values.events), batch: Number(values.batch), trials: Number(values.trials) }), null, 2)}\n`);
}
