import type { Consumer, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { createReliableProducer } from '../src/kafka/client.ts';
import { ensureTopics } from '../src/kafka/topics.ts';
import { dlqMessage } from '../src/ingest/dlq.ts';
import type { DlqReason } from '../src/ingest/decode.ts';
import type { Logger } from '../src/log.ts';
import { mapOtlpRequest, type OtlpSkipReason } from '../src/otlp/map-otlp.ts';
import type { OtlpMappingOptions } from '../src/otlp/mapping-options.ts';
import { decodeOtlpJson, MAX_OTLP_MESSAGE_BYTES } from '../src/otlp/otlp-json.ts';

export interface OtlpStageOptions {
  kafka: Kafka;
  /** The collector's topic (RUNWARDEN_TOPIC_OTLP). */
  otlpTopic: string;
  /** Where the mapped events go (agent.spans) and where refused payloads go (the DLQ). */
  topics: { spans: string; dlq: string };
  mapping: OtlpMappingOptions;
  logger: Logger;
  groupId?: string;
  fromBeginning?: boolean;
  /** Largest OTLP message accepted (bytes); default 16 MiB. */
  maxMessageBytes?: number;
  /** Wall clock for DLQ timestamps (injected for tests). */
  now?: () => number;
}

export interface OtlpStageStats {
  /** OTLP messages consumed. */
  payloads: number;
  spans: number;
  /** runwarden.span/v1 events produced to agent.spans. */
  events: number;
  skipped: Partial<Record<OtlpSkipReason, number>>;
  dlq: Partial<Record<DlqReason, number>>;
  commits: number;
}

export interface OtlpStage {
  start(): Promise<void>;
  /** Stops in a written order: stop fetching (the batch in hand is produced and committed), disconnect. */
  stop(): Promise<void>;
  stats(): OtlpStageStats;
}

/** Produce requests stay under the broker's default message.max.bytes (1 MB) per record batch. */
const MAX_SEND_BYTES = 512 * 1024;

/**
 * The `otlp` stage: OpenTelemetry Collector kafka exporter (`encoding: otlp_json`) → runwarden
 * span events on agent.spans, keyed by run_id, so that ingest and every detector apply unchanged.
 * Per fetched batch: map every message, produce the events and the DLQ copies of refused payloads
 * (idempotent producer, acks=all), and only then commit the batch's offsets. A crash in between
 * re-delivers the batch; the events carry deterministic ids (trace id + span id), so the
 * duplicates are dropped downstream.
 */
export function createOtlpStage(options: OtlpStageOptions): OtlpStage {
  const { kafka, topics, mapping, logger } = options;
  const log = logger.child({ component: 'otlp' });
  const now = options.now ?? Date.now;
  const maxBytes = options.maxMessageBytes ?? MAX_OTLP_MESSAGE_BYTES;
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId ?? 'runwarden-otlp',
    // Collector batches are large: room for a few per partition and fetch.
    maxBytesPerPartition: 16 * 1024 * 1024,
    sessionTimeout: 15_000,
    heartbeatInterval: 1_500,
  });
  const producer: Producer = createReliableProducer(kafka);
  const stats: OtlpStageStats = { payloads: 0, spans: 0, events: 0, skipped: {}, dlq: {}, commits: 0 };
  let issuesLogged = 0;

  function handle(topic: string, partition: number, message: KafkaMessage, events: Message[], dlq: Message[]): void {
    stats.payloads++;
    const decoded = decodeOtlpJson(message.value, maxBytes);
    if (!decoded.ok) {
      stats.dlq[decoded.reason] = (stats.dlq[decoded.reason] ?? 0) + 1;
      dlq.push(dlqMessage(message, decoded.reason, decoded.message, { topic, partition, offset: message.offset }, now()));
      return;
    }
    const mapped = mapOtlpRequest(decoded.request, mapping);
    stats.spans += mapped.spans;
    for (const [reason, n] of Object.entries(mapped.skipped) as Array<[OtlpSkipReason, number]>) stats.skipped[reason] = (stats.skipped[reason] ?? 0) + n;
    // Invalid spans are the producer's to fix: say so, but not on every message.
    if (mapped.issues.length > 0 && issuesLogged++ < 20) log.warn({ partition, offset: message.offset, issues: mapped.issues }, 'OTLP spans skipped as invalid');
    for (const event of mapped.events) events.push({ key: event.run_id, value: JSON.stringify(event), headers: { 'runwarden.source': 'otlp' } });
  }

  async function sendAll(topic: string, messages: Message[]): Promise<void> {
    let chunk: Message[] = [];
    let bytes = 0;
    for (const m of messages) {
      const size = (m.value as string).length + 64;
      if (chunk.length > 0 && bytes + size > MAX_SEND_BYTES) {
        await producer.send({ topic, acks: -1, messages: chunk });
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += size;
    }
    if (chunk.length > 0) await producer.send({ topic, acks: -1, messages: chunk });
  }

  return {
    async start() {
      // The collector creates its topic on first write where the broker allows it; create it here too,
      // so the stage can start first (partitions: as many as agent.spans, for the same parallelism).
      await ensureTopics(kafka, [{ topic: options.otlpTopic, numPartitions: 8 }]);
      await Promise.all([consumer.connect(), producer.connect()]);
      await consumer.subscribe({ topic: options.otlpTopic, fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const events: Message[] = [];
          const dlq: Message[] = [];
          let last: string | undefined;
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            handle(batch.topic, batch.partition, message, events, dlq);
            last = message.offset;
          }
          if (last === undefined) return;
          // Produced and acknowledged first, committed after: a crash re-delivers, never loses.
          await sendAll(topics.spans, events);
          if (dlq.length > 0) await producer.send({ topic: topics.dlq, acks: -1, messages: dlq });
          stats.events += events.length;
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
          stats.commits++;
          resolveOffset(last);
          await heartbeat();
        },
      });
      log.info({ topic: options.otlpTopic, to: topics.spans }, 'otlp stage started');
    },
    async stop() {
      // consumer.stop() waits for the batch in hand, which produces and commits before it returns.
      await consumer.stop();
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
      log.info({ stats }, 'otlp stage stopped');
    },
    stats: () => ({ ...stats, skipped: { ...stats.skipped }, dlq: { ...stats.dlq } }),
  };
}
