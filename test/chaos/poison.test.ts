import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCohortConsumer } from '../../consumers/cohort.ts';
import { createIngestConsumer } from '../../consumers/ingest.ts';
import { createPipelineConsumer } from '../../consumers/pipeline.ts';
import { topicsWithPrefix, type Topics } from '../../src/config/env.ts';
import type { ControlCommand } from '../../src/contracts/control.ts';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import type { KeyRing } from '../../src/control/sign.ts';
import { DLQ_HEADERS } from '../../src/ingest/dlq.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { waitForCatchUp } from '../../src/kafka/lag.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/log.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { migrate } from '../../src/store/migrate.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { expectedCommands } from '../support/live-fleet.ts';
import { readTopic, readTopicToEnd } from '../support/read-topic.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { until } from '../support/warden-process.ts';

/** Issue 5 item 6: a poison message never blocks a partition. */
const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'chaos-poison-secret-0123456789' } };
const logger = createLogger(process.env.CHAOS_LOG_LEVEL ?? 'silent');
const countRow = z.object({ n: z.coerce.number() });

async function produce(kafka: Kafka, topic: string, events: readonly SpanEventInput[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < events.length; i += 500) {
    await producer.send({ topic, acks: -1, messages: events.slice(i, i + 500).map((e) => ({ key: e.run_id, value: JSON.stringify(e) })) });
  }
  await producer.disconnect();
}

describe('poison messages never block a partition', () => {
  let kafka: Kafka;
  let admin: Admin;
  let store: Store;

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-chaos', ssl: false });
    admin = kafka.admin();
    await admin.connect();
    store = await createServerStore({ url: clickhouseUrl(), database: uniqueName('rw_poison') });
    await migrate(store);
  });

  afterAll(async () => {
    await admin?.disconnect();
    await store?.exec(`DROP DATABASE IF EXISTS ${store.database}`);
    await store?.close();
  });

  async function freshTopics(): Promise<Topics> {
    const topics = topicsWithPrefix(uniqueName('poison'));
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    return topics;
  }

  it('a per-run detector that throws on one event: that event to the DLQ with the error, every other command as in a clean pass', async () => {
    const topics = await freshTopics();
    const fleet = simulateFleet({ runs: 1_500, seed: 21, runawayShare: 0.1, startMs: Date.now() - 3_600_000 });
    // Poison an event of a runaway run, early in its partition, so that much follows it there.
    const runaway = fleet.runs.find((r) => r.behaviour === 'tool_loop');
    const poison = fleet.events.find((e) => e.run_id === runaway?.runId && e.kind === 'tool_call');
    expect(poison).toBeDefined();
    const pipeline = createPipelineConsumer({
      kafka,
      sink: store,
      topics,
      logger,
      policy: DEFAULT_POLICY,
      keyRing,
      groupId: uniqueName('detect'),
      forwardPartials: false,
      heartbeatIntervalMs: 0,
      extraDetector: {
        name: 'poison-test',
        apply: (event) => {
          if (event.event_id === poison?.event_id) throw new Error(`cannot digest ${event.event_id}`);
        },
      },
    });
    await pipeline.start();
    await produce(kafka, topics.spans, fleet.events);
    await until('the pipeline applied every event', async () => pipeline.stats().events >= fleet.events.length, 120_000);
    await pipeline.stop();

    const dlq = await readTopic(kafka, topics.dlq, 1, 30_000);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.value.toString()).toBe(JSON.stringify(poison));
    expect(dlq[0]?.headers[DLQ_HEADERS.reason]).toBe('detector_error');
    expect(dlq[0]?.headers[DLQ_HEADERS.detector]).toBe('poison-test');
    expect(dlq[0]?.headers[DLQ_HEADERS.message]).toContain(`cannot digest ${poison?.event_id}`);
    expect(pipeline.stats().detectorErrors).toBe(1);
    // The rest of the stream, its partition included, went through: the commands of a clean pass without the poison event.
    const expected = expectedCommands(fleet.events.filter((e) => e !== poison), DEFAULT_POLICY, keyRing);
    const got = new Map<string, ControlCommand>();
    for (const m of await readTopicToEnd(kafka, topics.control, 60_000)) {
      const c = JSON.parse(m.value.toString()) as ControlCommand;
      if (c.action !== 'heartbeat') got.set(c.command_id, c);
    }
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    const samePartitionAfter = [...got.values()].filter((c) => c.issued_at > Number(poison?.ts) && c.action === 'abort');
    expect(samePartitionAfter.length).toBeGreaterThan(0);
    const [rows] = await store.query(`SELECT count() AS n FROM dlq_events WHERE reason = 'detector_error' AND topic = '${topics.spans}'`, countRow);
    expect(rows?.n).toBe(1);
    console.log(`[chaos:poison:per-run] ${JSON.stringify({ events: fleet.events.length, dlq: dlq.length, commands: got.size, expected: expected.size, lost: expected.size - got.size })}`);
  });

  it('a cohort detector that throws on one partial: that partial to the DLQ with the error, the partition goes on', async () => {
    const topics = await freshTopics();
    const fleet = simulateFleet({ runs: 600, seed: 22, startMs: Date.now() - 3_600_000 });
    let seen = 0;
    let poisonAt = -1;
    const pipeline = createPipelineConsumer({ kafka, sink: store, topics, logger, policy: DEFAULT_POLICY, keyRing, groupId: uniqueName('detect'), heartbeatIntervalMs: 0, commitIntervalMs: 200 });
    const cohort = createCohortConsumer({
      kafka,
      sink: store,
      topics,
      logger,
      policy: DEFAULT_POLICY,
      keyRing,
      groupId: uniqueName('cohort'),
      checkpointIntervalMs: 1_000,
      extraDetector: {
        name: 'cohort-poison-test',
        apply: () => {
          // The 10th partial applied: deterministic enough, and far from the end of its partition.
          if (++seen === 10) {
            poisonAt = seen;
            throw new Error('partial of doom');
          }
        },
      },
    });
    await Promise.all([pipeline.start(), cohort.start()]);
    await produce(kafka, topics.spans, fleet.events);
    await until('the pipeline applied every event', async () => pipeline.stats().events >= fleet.events.length, 120_000);
    await pipeline.stop(); // its last commit forwards the last partials
    const forwarded = pipeline.stats().partials;
    await until('the cohort stage read every partial', async () => cohort.stats().partials >= forwarded, 60_000);
    await cohort.stop();

    expect(poisonAt).toBe(10);
    expect(forwarded).toBeGreaterThan(10);
    expect(cohort.stats().detectorErrors).toBe(1);
    expect(cohort.stats().partials).toBe(forwarded);
    const dlq = await readTopic(kafka, topics.dlq, 1, 30_000);
    expect(dlq[0]?.headers[DLQ_HEADERS.reason]).toBe('detector_error');
    expect(dlq[0]?.headers[DLQ_HEADERS.detector]).toBe('cohort-poison-test');
    expect(dlq[0]?.headers[DLQ_HEADERS.topic]).toBe(topics.partials);
    expect(dlq[0]?.headers[DLQ_HEADERS.message]).toContain('partial of doom');
    console.log(`[chaos:poison:cohort] ${JSON.stringify({ events: fleet.events.length, partials: forwarded, dlq: dlq.length })}`);
  });

  it('a row ClickHouse refuses: bisected out of its batch, to the DLQ with the server error; the rest of the batch lands', async () => {
    const topics = await freshTopics();
    const database = uniqueName('rw_refuse');
    const strict = await createServerStore({ url: clickhouseUrl(), database });
    try {
      await migrate(strict);
      // The server's schema is stricter than the client thinks: a model outside this enum is refused by ClickHouse itself.
      await strict.exec(`ALTER TABLE spans MODIFY COLUMN model Enum8('' = 0, 'gpt-4o' = 1, 'gpt-4o-mini' = 2, 'claude-sonnet-4' = 3)`);
      const fleet = simulateFleet({ runs: 400, seed: 23, startMs: Date.now() - 3_600_000 });
      const template = fleet.events.find((e) => e.kind === 'llm_call');
      const poison = { ...template, event_id: 'evt-poison-row', llm: { model: 'evil-model', input_tokens: 10, output_tokens: 5 } } as SpanEventInput;
      const events = [...fleet.events];
      events.splice(Math.floor(events.length / 2), 0, poison);
      const groupId = uniqueName('ingest');
      const ingest = createIngestConsumer({ kafka, sink: strict, topics, logger, groupId, batchRows: 2_000 });
      await ingest.start();
      await produce(kafka, topics.spans, events);
      await waitForCatchUp(admin, groupId, topics.spans, 120_000);
      await ingest.stop();

      const [rows] = await strict.query('SELECT count() AS n FROM spans FINAL', countRow);
      const [poisonRows] = await strict.query(`SELECT count() AS n FROM spans WHERE event_id = 'evt-poison-row'`, countRow);
      expect(rows?.n).toBe(fleet.events.length);
      expect(poisonRows?.n).toBe(0);
      const dlq = await readTopic(kafka, topics.dlq, 1, 30_000);
      expect(dlq).toHaveLength(1);
      expect(dlq[0]?.value.toString()).toBe(JSON.stringify(poison));
      expect(dlq[0]?.headers[DLQ_HEADERS.reason]).toBe('store_rejected');
      expect(dlq[0]?.headers[DLQ_HEADERS.message]).toMatch(/evil-model/);
      const stats = ingest.stats();
      expect(stats.rejectedRows).toBe(1);
      expect(stats.dlq).toEqual({ store_rejected: 1 });
      const [dlqRows] = await strict.query(`SELECT count() AS n FROM dlq_events WHERE reason = 'store_rejected'`, countRow);
      expect(dlqRows?.n).toBe(1);
      console.log(`[chaos:poison:clickhouse-row] ${JSON.stringify({ events: events.length, rows: rows?.n, dlq: dlq.length, error: dlq[0]?.headers[DLQ_HEADERS.message]?.slice(0, 160) })}`);
    } finally {
      await strict.exec(`DROP DATABASE IF EXISTS ${database}`);
      await strict.close();
    }
  });
});
