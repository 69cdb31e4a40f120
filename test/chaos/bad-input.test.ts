import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createIngestConsumer } from '../../consumers/ingest.ts';
import { createPipelineConsumer } from '../../consumers/pipeline.ts';
import { topicsWithPrefix } from '../../src/config/env.ts';
import type { ControlCommand } from '../../src/contracts/control.ts';
import type { KeyRing } from '../../src/control/sign.ts';
import { DLQ_HEADERS } from '../../src/ingest/dlq.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { waitForCatchUp } from '../../src/kafka/lag.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/log.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { BAD_INPUT_CLASSES, mixBadInput } from '../../src/sim/bad-input.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { migrate } from '../../src/store/migrate.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { expectedCommands } from '../support/live-fleet.ts';
import { readTopicToEnd } from '../support/read-topic.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { until } from '../support/warden-process.ts';

/** Issue 5 item 5: bad input at volume, every SPEC §6 class, mixed into a valid fleet. */
const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'chaos-bad-input-secret-0123456789' } };
const logger = createLogger(process.env.CHAOS_LOG_LEVEL ?? 'silent');
const kindRow = z.object({ kind: z.string(), n: z.coerce.number(), tokens: z.coerce.number(), cost_nusd: z.coerce.number() });
const reasonRow = z.object({ reason: z.string(), n: z.coerce.number() });

describe('bad input at volume', () => {
  let kafka: Kafka;
  let admin: Admin;
  let store: Store;

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-chaos', ssl: false });
    admin = kafka.admin();
    await admin.connect();
    store = await createServerStore({ url: clickhouseUrl(), database: uniqueName('rw_bad') });
    await migrate(store);
  });

  afterAll(async () => {
    await admin?.disconnect();
    await store?.exec(`DROP DATABASE IF EXISTS ${store.database}`);
    await store?.close();
  });

  it('≥ 1 % bad of every class: all in the DLQ with reason and bytes, counted, and the valid events as in a clean stream', async () => {
    const topics = topicsWithPrefix(uniqueName('bad'));
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    // Event time ends well before now (2 s per run start): none of the valid events is in the future.
    const fleet = simulateFleet({ runs: 2_000, seed: 31, runawayShare: 0.1, startMs: Date.now() - 3 * 3_600_000 });
    const stream = mixBadInput(fleet.events, { share: 0.015, seed: 32, nowMs: Date.now() });
    const bad = stream.filter((m) => m.reason !== undefined);
    const expectedReasons: Record<string, number> = {};
    for (const m of bad) expectedReasons[m.reason as string] = (expectedReasons[m.reason as string] ?? 0) + 1;
    expect(bad.length / stream.length).toBeGreaterThanOrEqual(0.01);
    expect(new Set(bad.map((m) => m.kind))).toEqual(new Set(BAD_INPUT_CLASSES.map(([k]) => k)));

    const ingestGroup = uniqueName('ingest');
    const ingest = createIngestConsumer({ kafka, sink: store, topics, logger, groupId: ingestGroup });
    const pipeline = createPipelineConsumer({ kafka, sink: store, topics, logger, policy: DEFAULT_POLICY, keyRing, groupId: uniqueName('detect'), forwardPartials: false, heartbeatIntervalMs: 0 });
    await Promise.all([ingest.start(), pipeline.start()]);
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < stream.length; i += 200) {
      await producer.send({ topic: topics.spans, acks: -1, messages: stream.slice(i, i + 200).map(({ key, value }) => ({ key, value })) });
    }
    await producer.disconnect();
    await waitForCatchUp(admin, ingestGroup, topics.spans, 180_000);
    await until('the pipeline read every message', async () => pipeline.stats().events + pipeline.stats().invalid >= stream.length, 120_000);
    await Promise.all([ingest.stop(), pipeline.stop()]);

    // Every bad message in the DLQ topic, with its reason, a message and its original bytes.
    const dlq = await readTopicToEnd(kafka, topics.dlq, 60_000);
    expect(dlq).toHaveLength(bad.length);
    const byBytes = new Map<string, (typeof dlq)[number]>();
    for (const m of dlq) byBytes.set(m.value.toString('base64'), m);
    const missing: string[] = [];
    for (const b of bad) {
      const got = byBytes.get(b.value.toString('base64'));
      if (!got || got.headers[DLQ_HEADERS.reason] !== b.reason || (got.headers[DLQ_HEADERS.message]?.length ?? 0) < 5) missing.push(`${b.kind} → ${got?.headers[DLQ_HEADERS.reason] ?? 'absent'}`);
    }
    expect(missing).toEqual([]);
    // Counted per reason: in the consumer's stats and in dlq_events.
    expect(ingest.stats().dlq).toEqual(expectedReasons);
    const reasons = await store.query('SELECT reason, count() AS n FROM dlq_events FINAL GROUP BY reason', reasonRow);
    expect(Object.fromEntries(reasons.map((r) => [r.reason, r.n]))).toEqual(expectedReasons);

    // 0 valid events lost: the rows and the rollup inputs of the clean stream.
    const byKind = await store.query('SELECT kind, count() AS n, sum(input_tokens + output_tokens) AS tokens, sum(cost_nusd) AS cost_nusd FROM spans FINAL GROUP BY kind', kindRow);
    const clean = new Map<string, { n: number; tokens: number }>();
    for (const e of fleet.events) {
      const k = clean.get(e.kind) ?? { n: 0, tokens: 0 };
      k.n++;
      if (e.kind === 'llm_call') k.tokens += e.llm.input_tokens + e.llm.output_tokens;
      clean.set(e.kind, k);
    }
    expect(new Map(byKind.map((r) => [r.kind, { n: r.n, tokens: r.tokens }]))).toEqual(clean);
    // …and the detectors' results of the clean stream: the same commands, byte for byte.
    const expected = expectedCommands(fleet.events, DEFAULT_POLICY, keyRing);
    const got = new Map<string, string>();
    for (const m of await readTopicToEnd(kafka, topics.control, 60_000)) {
      const c = JSON.parse(m.value.toString()) as ControlCommand;
      if (c.action !== 'heartbeat') got.set(c.command_id, m.value.toString());
    }
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, c] of expected) expect(JSON.parse(got.get(id) ?? 'null'), id).toEqual(c);
    expect(pipeline.stats().invalid + pipeline.stats().duplicates).toBe(bad.length);

    console.log(
      `[chaos:bad-input] ${JSON.stringify({ messages: stream.length, valid: fleet.events.length, bad: bad.length, bad_share: +(bad.length / stream.length).toFixed(4), dlq: dlq.length, per_reason: expectedReasons, lost: fleet.events.length - byKind.reduce((s, r) => s + r.n, 0), commands: got.size })}`,
    );
  });
});
