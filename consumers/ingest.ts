import type { Consumer, ConsumerRunConfig, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Topics } from '../src/config/env.ts';
import { createReliableProducer } from '../src/kafka/client.ts';
import { restartOnCrash } from '../src/kafka/restart-on-crash.ts';
import { decodeSpan, type DlqReason } from '../src/ingest/decode.ts';
import { createDedupCache } from '../src/ingest/dedup.ts';
import { dlqMessage } from '../src/ingest/dlq.ts';
import { createPendingBatch, type TopicPartitionOffset } from '../src/ingest/pending-batch.ts';
import type { Logger } from '../src/log.ts';
import { DEFAULT_PRICE_TABLE, priceLlmCall, type PriceTable } from '../src/pricing/price-table.ts';
import { spanToRow, dlqToRow } from '../src/store/rows.ts';
import { createMutex } from '../src/util/mutex.ts';
import { retry } from '../src/util/retry.ts';
import { runSteps, type ShutdownSteps } from './shutdown.ts';

/** Where rows go: the Store satisfies it; tests may pass an in-memory double. */
export interface RowSink {
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
}

export interface IngestOptions {
  kafka: Kafka;
  sink: RowSink;
  topics: Topics;
  logger: Logger;
  groupId?: string;
  /** Flush when this many rows are pending (default 1,000). */
  batchRows?: number;
  /** …or when the oldest pending row is this old (ms, default 1,000). */
  flushIntervalMs?: number;
  /** Pause fetching while this many rows wait for ClickHouse (default 50,000). */
  maxPendingRows?: number;
  /** Wall clock for the future-timestamp check (injected for tests). */
  now?: () => number;
  fromBeginning?: boolean;
  /** How long the group waits for a silent (crashed) member before moving its partitions (ms, default 15,000). */
  sessionTimeoutMs?: number;
  /** Prices LLM calls that report no `cost_usd` (default: the built-in list prices). */
  priceTable?: PriceTable;
}

export interface IngestStats {
  consumed: number;
  valid: number;
  dlq: Partial<Record<DlqReason, number>>;
  rowsWritten: number;
  flushes: number;
  commits: number;
  /** LLM calls without `cost_usd` whose model is not in the price table (stored at $0). */
  unpricedLlmCalls: number;
}

export interface IngestConsumer {
  start(): Promise<void>;
  /** Stops in the written order (consumers/shutdown.ts): stop fetching, flush sinks, commit offsets, disconnect. */
  stop(): Promise<void>;
  /** The same, one step at a time, for an ordered shutdown of several stages. */
  readonly steps: ShutdownSteps;
  stats(): IngestStats;
  /** Resolves once everything consumed so far is written and committed. */
  flush(): Promise<void>;
}

/**
 * The ingestion consumer: agent.spans → validate → ClickHouse (spans, dlq_events) and the DLQ
 * topic. Offsets are committed only after ClickHouse acknowledged the rows and the DLQ topic
 * acknowledged the bad messages, so a crash re-delivers rather than loses; re-delivered rows
 * collapse in the ReplacingMergeTree tables (keyed by event_id).
 */
export function createIngestConsumer(options: IngestOptions): IngestConsumer {
  const { kafka, sink, topics, logger } = options;
  const log = logger.child({ component: 'ingest' });
  const batchRows = options.batchRows ?? 1_000;
  const flushIntervalMs = options.flushIntervalMs ?? 1_000;
  const maxPending = options.maxPendingRows ?? 50_000;
  const now = options.now ?? Date.now;
  const priceTable = options.priceTable ?? DEFAULT_PRICE_TABLE;
  const unpricedModels = new Set<string>();
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId ?? 'runwarden-ingest',
    maxBytesPerPartition: 4 * 1024 * 1024,
    // A killed member is noticed within 15 s, so a restarted warden resumes quickly.
    sessionTimeout: options.sessionTimeoutMs ?? 15_000,
    heartbeatInterval: 1_500,
  });
  const producer: Producer = createReliableProducer(kafka);
  const dedup = createDedupCache({ maxEntries: 1_000_000, ttlMs: 60 * 60_000 });
  /** Highest offset handled per topic/partition in this process (offsets stay below 2^53). */
  const handledUpTo = new Map<string, number>();
  const exclusive = createMutex();
  const stats: IngestStats = { consumed: 0, valid: 0, dlq: {}, rowsWritten: 0, flushes: 0, commits: 0, unpricedLlmCalls: 0 };
  let pending = createPendingBatch();
  /** Offsets of rows already in ClickHouse, not yet committed (by topic/partition). */
  let uncommitted = new Map<string, TopicPartitionOffset>();
  let timer: NodeJS.Timeout | undefined;
  let stopping = new AbortController();
  let stopRequested = false;

  function handle(topic: string, partition: number, message: KafkaMessage): void {
    stats.consumed++;
    const decoded = decodeSpan(message.value, { nowMs: now() });
    const meta = { topic, partition, offset: message.offset };
    // A message at or below the highest offset already handled is the same message read again
    // (the consumer rewound to its last commit after a failed commit, a crash of the consumer or
    // a rebalance), not a duplicate event: its row is written again and collapses in the table.
    const position = `${topic}\u0000${partition}`;
    const offset = Number(message.offset);
    const reread = offset <= (handledUpTo.get(position) ?? -1);
    if (!reread) handledUpTo.set(position, offset);
    if (decoded.ok && !reread && dedup.seen(decoded.event.event_id, decoded.event.ts)) {
      toDlq('duplicate', `event_id ${decoded.event.event_id} was already ingested`);
    } else if (decoded.ok) {
      stats.valid++;
      const event = decoded.event;
      let pricedCostUsd: number | undefined;
      if (event.kind === 'llm_call' && event.llm.cost_usd === undefined) {
        const price = priceLlmCall(event.llm, priceTable);
        if (price.known) pricedCostUsd = price.costUsd;
        else noteUnpriced(event.llm.model);
      }
      const rowMeta = { partition, offset: Number(message.offset), ingestedAtMs: now() };
      pending.spans.push(spanToRow(event, pricedCostUsd === undefined ? rowMeta : { ...rowMeta, pricedCostUsd }));
    } else {
      toDlq(decoded.reason, decoded.message);
    }
    pending.advance(topic, partition, message.offset);

    function toDlq(reason: DlqReason, text: string): void {
      stats.dlq[reason] = (stats.dlq[reason] ?? 0) + 1;
      pending.dlqMessages.push(dlqMessage(message, reason, text, meta, now()));
      pending.dlqRows.push(dlqToRow({ tsMs: now(), reason, message: text, ...meta, value: message.value }));
    }
  }

  function noteUnpriced(model: string): void {
    stats.unpricedLlmCalls++;
    // Once per model: a fleet on an unlisted model would otherwise log on every call.
    if (unpricedModels.size < 1_000 && !unpricedModels.has(model)) {
      unpricedModels.add(model);
      log.warn({ model }, 'LLM call without cost_usd for a model missing from the price table; stored at $0 — add it under pricing.models in the policy file');
    }
  }

  /** Writes the pending rows and DLQ messages; their offsets wait in `uncommitted` for commitLocked(). */
  async function writeLocked(): Promise<void> {
    if (pending.isEmpty()) return;
    const batch = pending;
    pending = createPendingBatch();
    const attempt = <T>(what: string, fn: () => Promise<T>) =>
      retry(fn, {
        retries: Infinity,
        baseDelayMs: 200,
        maxDelayMs: 5_000,
        signal: stopping.signal,
        onRetry: (err, n, delay) => log.warn({ err, attempt: n, delayMs: Math.round(delay) }, `${what} failed; retrying`),
      });
    if (batch.spans.length > 0) await attempt('insert spans', () => sink.insert('spans', batch.spans));
    if (batch.dlqRows.length > 0) await attempt('insert dlq_events', () => sink.insert('dlq_events', batch.dlqRows));
    if (batch.dlqMessages.length > 0) {
      await attempt('produce DLQ', () => producer.send({ topic: topics.dlq, acks: -1, messages: batch.dlqMessages }));
    }
    stats.rowsWritten += batch.spans.length + batch.dlqRows.length;
    stats.flushes++;
    for (const o of batch.commitOffsets()) uncommitted.set(`${o.topic}\u0000${o.partition}`, o);
  }

  /** Commits the offsets of what is written (only ever after ClickHouse acknowledged it). */
  async function commitLocked(): Promise<void> {
    if (uncommitted.size === 0) return;
    const offsets = [...uncommitted.values()];
    uncommitted = new Map();
    await consumer.commitOffsets(offsets);
    stats.commits++;
  }

  async function flushLocked(): Promise<void> {
    await writeLocked();
    await commitLocked();
  }

  const flush = () => exclusive(flushLocked);

  /**
   * The written shutdown order (consumers/shutdown.ts), this consumer's part in each step. The
   * last commit happens before consumer.stop(): kafkajs cannot commit once the consumer left its group.
   */
  const steps: ShutdownSteps = {
    async stop_fetching() {
      if (timer) clearInterval(timer);
      stopRequested = true;
      consumer.pause([{ topic: topics.spans }]);
      await exclusive(() => Promise.resolve()); // the batch in hand is in `pending`
    },
    flush_sinks: () => exclusive(writeLocked),
    commit: () => exclusive(commitLocked),
    async disconnect() {
      try {
        await consumer.stop();
      } finally {
        stopping.abort();
        await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
        log.info({ stats }, 'ingest consumer stopped');
      }
    },
  };

  return {
    async start() {
      stopping = new AbortController();
      await Promise.all([consumer.connect(), producer.connect()]);
      await consumer.subscribe({ topic: topics.spans, fromBeginning: options.fromBeginning ?? true });
      timer = setInterval(() => {
        if (!pending.isEmpty() && now() - pending.firstAtMs >= flushIntervalMs) {
          flush().catch((err: unknown) => log.error({ err }, 'scheduled flush failed'));
        }
      }, Math.max(50, Math.floor(flushIntervalMs / 4)));
      const runConfig: ConsumerRunConfig = {
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          await exclusive(async () => {
            if (stopRequested) return; // fetched before the pause: not resolved, re-read after a restart
            for (const message of batch.messages) {
              if (!isRunning() || isStale()) break;
              handle(batch.topic, batch.partition, message);
              resolveOffset(message.offset);
            }
            // Backpressure: while ClickHouse lags, this await holds the fetch loop.
            if (pending.rows() >= batchRows || pending.rows() >= maxPending) await flushLocked();
          });
          await heartbeat();
        },
      };
      await consumer.run(runConfig);
      restartOnCrash(consumer, {
        logger: log,
        isStopping: () => stopRequested,
        rerun: async () => {
          await consumer.connect();
          await consumer.subscribe({ topic: topics.spans, fromBeginning: options.fromBeginning ?? true });
          await consumer.run(runConfig);
        },
      });
      log.info({ topic: topics.spans }, 'ingest consumer started');
    },
    steps,
    stop: () => runSteps(steps),
    stats: () => ({ ...stats, dlq: { ...stats.dlq } }),
    flush,
  };
}
