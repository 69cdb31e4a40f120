import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOtlpStage } from '../../consumers/otlp.ts';
import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import type { ControlCommand } from '../../src/contracts/control.ts';
import { spanEventSchema } from '../../src/contracts/span.ts';
import { DLQ_HEADERS } from '../../src/ingest/dlq.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/log.ts';
import { mapOtlpRequest } from '../../src/otlp/map-otlp.ts';
import { DEFAULT_OTLP_MAPPING } from '../../src/otlp/mapping-options.ts';
import { decodeOtlpJson } from '../../src/otlp/otlp-json.ts';
import { agentTrace } from '../support/otlp-agent-trace.ts';
import { otlpJson, otlpProto, recordSpans } from '../support/otlp-payload.ts';
import { readTopic, readTopicToEnd } from '../support/read-topic.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { spawnWarden, until } from '../support/warden-process.ts';

const RESOURCE = { 'service.name': 'support-bot', 'tenant.id': 'acme', 'user.id': 'u-42' };

/** What the collector's kafka exporter does with encoding otlp_json: one ExportTraceServiceRequest per message. */
async function publish(kafka: Kafka, topic: string, values: readonly Uint8Array[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: values.map((v) => ({ value: Buffer.from(v) })) });
  await producer.disconnect();
}

describe('OpenTelemetry ingestion through the real broker', () => {
  let kafka: Kafka;
  beforeAll(() => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-otlp-test', ssl: false });
  });

  it('the otlp stage produces the mapped events keyed by run_id, refused payloads to the DLQ, and commits after', async () => {
    const id = uniqueName('otlp');
    const topics = topicsWithPrefix(id);
    const otlpTopic = `${id}.otlp_spans`;
    await ensureTopics(kafka, [...defaultTopicSpecs(topics, 2), { topic: otlpTopic, numPartitions: 2 }]);
    const spans = await recordSpans(agentTrace({ toolCalls: 2, startMs: Date.now() - 60_000 }), RESOURCE);
    const payload = otlpJson(spans);
    const decoded = decodeOtlpJson(payload);
    if (!decoded.ok) throw new Error(decoded.message);
    const want = mapOtlpRequest(decoded.request).events;
    await publish(kafka, otlpTopic, [payload, otlpProto(spans), new TextEncoder().encode('{"resourceSpans": 7}')]);

    const stage = createOtlpStage({ kafka, otlpTopic, topics, mapping: DEFAULT_OTLP_MAPPING, logger: createLogger('warn'), groupId: `${id}-otlp` });
    await stage.start();
    try {
      const out = await readTopic(kafka, topics.spans, want.length, 60_000);
      const dlq = await readTopic(kafka, topics.dlq, 2, 60_000);
      await until('the otlp stage to commit', async () => stage.stats().payloads === 3 && stage.stats().commits > 0, 30_000);

      const got = out.map((m) => spanEventSchema.parse(JSON.parse(m.value.toString())));
      expect(got.map((e) => e.event_id).sort()).toEqual(want.map((e) => e.event_id).sort());
      for (const m of out) expect(m.key).toBe(spans[0]!.spanContext().traceId);
      expect(out.every((m) => m.headers['runwarden.source'] === 'otlp')).toBe(true);
      expect(dlq.map((m) => m.headers[DLQ_HEADERS.reason]).sort()).toEqual(['invalid_utf8', 'schema_violation']);
      expect(dlq.find((m) => m.headers[DLQ_HEADERS.reason] === 'invalid_utf8')?.headers[DLQ_HEADERS.message]).toMatch(/otlp_json/);

      const stats = stage.stats();
      expect(stats).toMatchObject({ payloads: 3, spans: spans.length, events: want.length, skipped: { not_gen_ai: 1 }, dlq: { invalid_utf8: 1, schema_violation: 1 } });
      const admin = kafka.admin();
      await admin.connect();
      const [committed] = await admin.fetchOffsets({ groupId: `${id}-otlp`, topics: [otlpTopic] });
      await admin.disconnect();
      const total = (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      expect(total).toBe(3);
    } finally {
      await stage.stop();
    }
  });

  describe('runwarden start --stages otlp,detect', () => {
    const database = uniqueName('rw_otlp');
    afterAll(async () => {
      const { createServerStore } = await import('../../src/store/server-store.ts');
      const store = await createServerStore({ url: clickhouseUrl(), database });
      await store.exec(`DROP DATABASE IF EXISTS ${database}`);
      await store.close();
    });

    it('aborts the run of an OTLP trace that loops on a tool, once, though the collector sent the payload twice', async () => {
      const id = uniqueName('otlpcli');
      const topics = topicsWithPrefix(id);
      const otlpTopic = `${id}.otlp_spans`;
      await ensureTopics(kafka, [...defaultTopicSpecs(topics, 2), { topic: otlpTopic, numPartitions: 2 }]);
      const spans = await recordSpans(agentTrace({ toolCalls: 8, startMs: Date.now() - 60_000 }), RESOURCE);
      const runId = spans[0]!.spanContext().traceId;
      const payload = otlpJson(spans);
      // A collector retry after a lost ack delivers the same request twice.
      await publish(kafka, otlpTopic, [payload, payload]);

      const warden = spawnWarden(['start', '--stages', 'otlp,detect', '--group-prefix', id, '--heartbeat-ms', '0'], {
        ...process.env,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        CLICKHOUSE_URL: clickhouseUrl(),
        CLICKHOUSE_DATABASE: database,
        ...topicsEnv(topics),
        RUNWARDEN_TOPIC_OTLP: otlpTopic,
        RUNWARDEN_HMAC_KEYS: 'k1:otlp-integration-secret-0123',
        LOG_LEVEL: 'warn',
      });
      const exited = new Promise<number | null>((r) => warden.once('exit', r));
      try {
        let commands: ControlCommand[] = [];
        await until(
          'an abort on the control topic',
          async () => {
            commands = (await readTopicToEnd(kafka, topics.control, 30_000)).map((m) => JSON.parse(m.value.toString()) as ControlCommand);
            return commands.some((c) => c.action === 'abort');
          },
          90_000,
        );
        const aborts = commands.filter((c) => c.action === 'abort');
        expect(aborts).toHaveLength(1);
        expect(aborts[0]).toMatchObject({ scope: { kind: 'run', id: runId }, reason: { detector: 'tool-loop' } });
        // Both deliveries were mapped and produced with the same event ids; the detect stage dropped the second.
        const decoded = decodeOtlpJson(payload);
        const perDelivery = decoded.ok ? mapOtlpRequest(decoded.request).events.length : 0;
        let ids: string[] = [];
        await until(
          'both deliveries on the spans topic',
          async () => {
            ids = (await readTopicToEnd(kafka, topics.spans, 30_000)).map((m) => (JSON.parse(m.value.toString()) as { event_id: string }).event_id);
            return ids.length >= 2 * perDelivery;
          },
          60_000,
        );
        expect(perDelivery).toBeGreaterThan(8);
        expect(new Set(ids).size).toBe(perDelivery);
      } finally {
        warden.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    });
  });
});
