import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { z } from 'zod';
import { createIngestConsumer } from '../../consumers/ingest.ts';
import { type Topics, topicsWithPrefix } from '../../src/config/env.ts';
import { DLQ_HEADERS } from '../../src/ingest/dlq.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { waitForCatchUp } from '../../src/kafka/lag.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/log.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { migrate } from '../../src/store/migrate.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { badMessageCases } from '../support/bad-messages.ts';
import { readTopic } from '../support/read-topic.ts';

const logger = createLogger('warn');
const countSchema = z.object({ n: z.coerce.number() });

describe('ingestion: agent.spans → ClickHouse and the DLQ (real Kafka, real ClickHouse)', () => {
  let kafka: Kafka;
  let store: Store;
  let topics: Topics;

  beforeAll(async () => {
    const id = uniqueName('ingest');
    topics = topicsWithPrefix(id);
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-test', ssl: false });
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    store = await createServerStore({ url: clickhouseUrl(), database: uniqueName('rw_test') });
    await migrate(store);
  });

  afterAll(async () => {
    await store.exec(`DROP DATABASE IF EXISTS ${store.database}`);
    await store.close();
  });

  it('writes exactly the valid events, sends every bad one to the DLQ with its reason and bytes', async () => {
    const fleet = simulateFleet({ runs: 400, seed: 7, startMs: Date.now() - 3_600_000 });
    const valid = fleet.events.map((e) => ({ key: e.run_id, value: JSON.stringify(e) }));
    const bad = badMessageCases(valid[0]!.value);
    const messages: Array<{ key: string; value: string | Buffer }> = [...valid];
    // Bad ones are spread through the stream: they must not stop or slow what follows them.
    bad.forEach((b, i) => messages.splice(Math.floor(((i + 1) * messages.length) / (bad.length + 1)), 0, { key: 'bad', value: b.value }));

    const groupId = uniqueName('ingest-group');
    const consumer = createIngestConsumer({ kafka, sink: store, topics, logger, groupId });
    await consumer.start();
    const producer = kafka.producer();
    await producer.connect();
    const t0 = performance.now();
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic: topics.spans, acks: -1, messages: messages.slice(i, i + 500) });
    }
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await waitForCatchUp(admin, groupId, topics.spans, 90_000);
    const seconds = (performance.now() - t0) / 1000;
    await admin.disconnect();
    await consumer.stop();
    console.log(`[ingest] ${messages.length} events in ${seconds.toFixed(2)} s = ${Math.round(messages.length / seconds)} events/s (produce + validate + ClickHouse + commit)`);

    const [spans] = await store.query(`SELECT count() AS n FROM spans FINAL`, countSchema);
    expect(spans?.n).toBe(valid.length);
    const [distinct] = await store.query(`SELECT uniqExact(event_id) AS n FROM spans`, countSchema);
    expect(distinct?.n).toBe(valid.length);

    const dlq = await readTopic(kafka, topics.dlq, bad.length, 30_000);
    expect(dlq).toHaveLength(bad.length);
    const byValue = new Map(dlq.map((m) => [m.value.toString('base64'), m]));
    for (const b of bad) {
      const got = byValue.get(Buffer.from(b.value).toString('base64'));
      expect(got, `DLQ copy of the ${b.name} case`).toBeDefined();
      expect(got!.headers[DLQ_HEADERS.reason], b.name).toBe(b.reason);
      expect(got!.headers[DLQ_HEADERS.message]?.length, b.name).toBeGreaterThan(5);
    }
    const [dlqRows] = await store.query(`SELECT count() AS n FROM dlq_events`, countSchema);
    expect(dlqRows?.n).toBe(bad.length);
    const stats = consumer.stats();
    expect(stats.valid).toBe(valid.length);
    expect(stats.consumed).toBe(messages.length);
  });
});
