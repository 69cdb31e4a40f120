import type { Consumer, ConsumerRunConfig, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Topics } from '../src/config/env.ts';
import { chunkByBytes } from '../src/kafka/chunk-by-bytes.ts';
import { createReliableProducer } from '../src/kafka/client.ts';
import { runWithRestart } from '../src/kafka/restart-on-crash.ts';
import { decodeSpan, type DlqReason } from '../src/ingest/decode.ts';
import { createDedupCache } from '../src/ingest/dedup.ts';
import { dlqMessage } from '../src/ingest/dlq.ts';
import { insertIsolating } from '../src/ingest/insert-isolating.ts';
import { createPendingBatch, type PendingBatch } from '../src/ingest/pending-batch.ts';
import type { Logger } from '../src/log.ts';
import type { StageMetrics } from '../src/metrics/stage-metrics.ts';
import { DEFAULT_PRICE_TABLE, priceLlmCall, type PriceTable } from '../src/pricing/price-table.ts';
import { refusesStatement } from '../src/store/errors.ts';
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
  /**
   * Bound on the rows held in memory for ClickHouse, being written or waiting (default 50,000).
   * At the bound the consumer pauses fetching (lag grows in Kafka, nothing is dropped) and resumes
   * once the rows are written. Memory: rows plus their source messages, ~1 KB each.
   */
  maxBufferedRows?: number;
  /** Backoff of insert retries while ClickHouse is unreachable: first and longest delay (ms, default 200 and 5,000). */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Wall clock for the future-timestamp check (injected for tests). */
  now?: () => number;
  fromBeginning?: boolean;
  /** How long the group waits for a silent (crashed) member before moving its partitions (ms, default 15,000). */
  sessionTimeoutMs?: number;
  /** Prices LLM calls that report no `cost_usd` (default: the built-in list prices). */
  priceTable?: PriceTable;
  /** Counts consumed messages, DLQ reasons and pending rows (src/metrics); nothing when absent. */
  metrics?: Pick<StageMetrics, 'consumed' | 'dlq' | 'state'>;
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
  /** Rows held for ClickHouse now (waiting and being written), and the most ever held. */
  bufferedRows: number;
  maxBufferedRowsSeen: number;
  /** Times fetching paused at the buffer bound; whether it is paused now. */
  pauses: number;
  paused: boolean;
  /** Insert or DLQ-produce attempts that failed retriably and were retried after a backoff. */
  retries: number;
  /** Span rows ClickHouse refused on their own (isolated by bisection), sent to the DLQ as `store_rejected`. */
  rejectedRows: number;
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

/** Key and value bytes per DLQ produce request (see writeBatch). */
const DLQ_REQUEST_BYTES = 512 * 1024;

/**
 * The ingestion consumer: agent.spans → validate → ClickHouse (spans, dlq_events) and the DLQ
 * topic. Offsets are committed only after ClickHouse acknowledged the rows and the DLQ topic
 * acknowledged the bad messages, so a crash re-delivers rather than loses; re-delivered rows
 * collapse in the ReplacingMergeTree tables (keyed by event_id).
 *
 * ClickHouse outages: writes happen in the background, one flush at a time, retried with
 * exponential backoff; the fetch loop never waits for them (it keeps heartbeating, so the group
 * does not rebalance). Rows held for ClickHouse are bounded by `maxBufferedRows`: at the bound the
 * consumer pauses fetching, so lag grows in Kafka instead of memory, and resumes once written.
 * A row ClickHouse refuses for good is isolated by bisecting its batch and goes to the DLQ
 * (`store_rejected`, with the server's error); the rest of the batch is written.
 */
export function createIngestConsumer(options: IngestOptions): IngestConsumer {
  const { kafka, sink, topics, logger } = options;
  const log = logger.child({ component: 'ingest' });
  const batchRows = options.batchRows ?? 1_000;
  const flushIntervalMs = options.flushIntervalMs ?? 1_000;
  const maxBuffered = Math.max(1, options.maxBufferedRows ?? 50_000);
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
  const stats: IngestStats = {
    consumed: 0,
    valid: 0,
    dlq: {},
    rowsWritten: 0,
    flushes: 0,
    commits: 0,
    unpricedLlmCalls: 0,
    bufferedRows: 0,
    maxBufferedRowsSeen: 0,
    pauses: 0,
    paused: false,
    retries: 0,
    rejectedRows: 0,
  };
  let pending = createPendingBatch();
  /** Batches taken out of `pending` and not yet written and committed, oldest first. */
  const unwritten: PendingBatch[] = [];
  /** The flush waiting for the one in progress, shared by every caller meanwhile. */
  let queuedFlush: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = new AbortController();
  /** Set by the shutdown's stop_fetching: no batch is handled after it, fetching stays paused. */
  let stopRequested = false;
  const buffered = () => unwritten.reduce((n, b) => n + b.rows(), pending.rows());
  const retryOptions = () => ({
    baseDelayMs: options.retryBaseDelayMs ?? 200,
    maxDelayMs: options.retryMaxDelayMs ?? 5_000,
    signal: stopping.signal,
  });

  function handle(topic: string, partition: number, message: KafkaMessage): void {
    stats.consumed++;
    const decoded = decodeSpan(message.value, { nowMs: now() });
    // A message at or below the highest offset already handled is the same message read again
    // (the consumer rewound to its last commit after a failed commit, a crash of the consumer or
    // a rebalance), not a duplicate event: its row is written again and collapses in the table.
    const position = `${topic}\u0000${partition}`;
    const offset = Number(message.offset);
    const reread = offset <= (handledUpTo.get(position) ?? -1);
    if (!reread) handledUpTo.set(position, offset);
    if (decoded.ok && !reread && dedup.seen(decoded.event.event_id, decoded.event.ts)) {
      toDlq(message, topic, partition, 'duplicate', `event_id ${decoded.event.event_id} was already ingested`);
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
      pending.spanSources.push({ message, topic, partition });
    } else {
      toDlq(message, topic, partition, decoded.reason, decoded.message);
    }
    pending.advance(topic, partition, message.offset);
  }

  /** Queues a bad message for the DLQ topic and the dlq_events table, in `batch` (default: the one filling). */
  function toDlq(message: KafkaMessage, topic: string, partition: number, reason: DlqReason, text: string, batch: PendingBatch = pending): void {
    const meta = { topic, partition, offset: message.offset };
    stats.dlq[reason] = (stats.dlq[reason] ?? 0) + 1;
    options.metrics?.dlq(reason);
    batch.dlqMessages.push(dlqMessage(message, reason, text, meta, now()));
    batch.dlqRows.push(dlqToRow({ tsMs: now(), reason, message: text, ...meta, value: message.value }));
  }

  function noteUnpriced(model: string): void {
    stats.unpricedLlmCalls++;
    // Once per model: a fleet on an unlisted model would otherwise log on every call.
    if (unpricedModels.size < 1_000 && !unpricedModels.has(model)) {
      unpricedModels.add(model);
      log.warn({ model }, 'LLM call without cost_usd for a model missing from the price table; stored at $0 — add it under pricing.models in the policy file');
    }
  }

  /** Retriable for the ingest: what the error says, or a statement the server refuses whatever the rows (wait for an operator). */
  const isRetriable = (err: unknown) => (err as { retriable?: unknown } | null)?.retriable === true || refusesStatement(err);

  function onRetry(what: string) {
    return (err: unknown, attempt: number, delayMs: number) => {
      stats.retries++;
      // The first few at warn, then every 10th: a long outage must not flood the log.
      if (attempt <= 3 || attempt % 10 === 0) log.warn({ err, attempt, delayMs: Math.round(delayMs), bufferedRows: buffered() }, `${what} failed; retrying`);
    };
  }

  /** Inserts rows, isolating the ones ClickHouse refuses for good; returns their indexes and errors. */
  function insert(table: string, rows: readonly Record<string, unknown>[]) {
    return insertIsolating(sink, table, rows, { ...retryOptions(), isRetriable, onRetry: onRetry(`insert ${table}`) });
  }

  /**
   * Writes the batches taken from `pending`, oldest first, and commits each one's offsets once it
   * is written. A batch whose write fails (not for a retriable reason: those are retried inside)
   * stays first in line and is written again by the next flush — its offsets, and every later
   * batch's, are never committed before it, so nothing is skipped. Re-written rows collapse in
   * the ReplacingMergeTree tables; a DLQ message may then be sent twice.
   */
  async function flushLocked(): Promise<void> {
    if (!pending.isEmpty()) {
      unwritten.push(pending);
      pending = createPendingBatch();
    }
    try {
      while (unwritten.length > 0) {
        await writeBatch(unwritten[0] as PendingBatch);
        unwritten.shift();
      }
    } finally {
      resumeIfRoom();
    }
  }

  async function writeBatch(batch: PendingBatch): Promise<void> {
    // The span rows, the dlq_events rows and the DLQ topic are written side by side (three round
    // trips in one); the rows ClickHouse refuses go to the DLQ after, as `store_rejected`.
    const dlqRows = batch.dlqRows.slice();
    const dlqMessages = batch.dlqMessages.slice();
    await settled([writeSpans(batch), writeDlq(dlqRows, dlqMessages)]);
    if (batch.dlqRows.length > dlqRows.length) await writeDlq(batch.dlqRows.slice(dlqRows.length), batch.dlqMessages.slice(dlqMessages.length));
    stats.rowsWritten += batch.spans.length + batch.dlqRows.length;
    stats.flushes++;
    const offsets = batch.commitOffsets();
    if (offsets.length > 0) {
      await consumer.commitOffsets(offsets);
      stats.commits++;
    }
  }

  async function writeSpans(batch: PendingBatch): Promise<void> {
    if (batch.spans.length === 0 || batch.spansWritten) return;
    const refused = await insert('spans', batch.spans);
    batch.spansWritten = true;
    for (const { index, error } of refused) {
      const source = batch.spanSources[index];
      if (!source) continue;
      stats.valid--;
      stats.rejectedRows++;
      const text = `ClickHouse refused the row: ${error instanceof Error ? error.message : String(error)}`;
      log.error({ err: error, partition: source.partition, offset: source.message.offset }, 'ClickHouse refused a span row; sent to the DLQ');
      toDlq(source.message, source.topic, source.partition, 'store_rejected', text, batch);
    }
  }

  async function writeDlq(rows: PendingBatch['dlqRows'], messages: PendingBatch['dlqMessages']): Promise<void> {
    const toTable = async () => {
      if (rows.length === 0) return;
      // The DLQ topic is the record of a bad message; a dlq_events row the server refuses is only logged.
      for (const { index, error } of await insert('dlq_events', rows)) {
        log.error({ err: error, row: index }, 'ClickHouse refused a dlq_events row; the DLQ topic still has the message');
      }
    };
    const toTopic = async () => {
      // One request per ~512 KiB: the DLQ topic has one partition, and a record batch larger than the
      // broker's message.max.bytes (1 MB by default) is refused whole — oversize copies add up fast.
      for (const chunk of chunkByBytes(messages, DLQ_REQUEST_BYTES)) {
        await retry(() => producer.send({ topic: topics.dlq, acks: -1, messages: chunk }), {
          retries: Infinity,
          ...retryOptions(),
          onRetry: onRetry('produce DLQ'),
        });
      }
    };
    await settled([toTable(), toTopic()]);
  }

  /** Flushes what is pending; callers while a flush runs share the next one (it takes everything pending when it starts). */
  function flush(): Promise<void> {
    queuedFlush ??= exclusive(() => {
      queuedFlush = undefined;
      return flushLocked();
    });
    return queuedFlush;
  }

  const flushInBackground = () => void flush().catch((err: unknown) => log.error({ err }, 'flush failed'));

  function noteBuffered(): void {
    stats.bufferedRows = buffered();
    if (stats.bufferedRows > stats.maxBufferedRowsSeen) stats.maxBufferedRowsSeen = stats.bufferedRows;
  }

  function pauseFetching(): void {
    if (stats.paused) return;
    stats.paused = true;
    stats.pauses++;
    consumer.pause([{ topic: topics.spans }]);
    log.warn({ bufferedRows: buffered(), maxBufferedRows: maxBuffered }, 'ClickHouse is behind: fetching paused until the buffered rows are written');
  }

  function resumeIfRoom(): void {
    noteBuffered();
    if (!stats.paused || stopRequested || buffered() >= maxBuffered / 2) return;
    stats.paused = false;
    consumer.resume([{ topic: topics.spans }]);
    log.info({ bufferedRows: buffered() }, 'fetching resumed');
  }

  /**
   * The written shutdown order (consumers/shutdown.ts), this consumer's part in each step. A batch
   * is handled synchronously, so none is half-way when stop_fetching runs. flush() writes each
   * batch and commits its offsets once written, so flush_sinks also commits: before
   * consumer.stop(), as kafkajs cannot commit once the consumer left its group.
   */
  const steps: ShutdownSteps = {
    async stop_fetching() {
      if (timer) clearInterval(timer);
      stopRequested = true;
      consumer.pause([{ topic: topics.spans }]);
    },
    flush_sinks: () => flush(),
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
        // Also a batch whose write failed: it is tried again here (and holds the later commits back).
        if ((!pending.isEmpty() && now() - pending.firstAtMs >= flushIntervalMs) || (unwritten.length > 0 && queuedFlush === undefined)) flushInBackground();
      }, Math.max(50, Math.floor(flushIntervalMs / 4)));
      const runConfig: ConsumerRunConfig = {
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (stopRequested) return; // fetched before the pause: not resolved, re-read after a restart
          const consumedBefore = stats.consumed;
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            if (buffered() >= maxBuffered) {
              // Unresolved messages are fetched again after resume (kafkajs fetches from the resolved offset).
              pauseFetching();
              break;
            }
            handle(batch.topic, batch.partition, message);
            resolveOffset(message.offset);
          }
          noteBuffered();
          if (pending.rows() >= batchRows || stats.paused) flushInBackground();
          options.metrics?.consumed('ingest', stats.consumed - consumedBefore);
          options.metrics?.state('ingest', { pendingRows: buffered() });
          await heartbeat();
        },
      };
      await runWithRestart(consumer, { topic: topics.spans, fromBeginning: options.fromBeginning ?? true, runConfig, logger: log, isStopping: () => stopRequested });
      log.info({ topic: topics.spans, maxBufferedRows: maxBuffered }, 'ingest consumer started');
    },
    steps,
    stop: () => runSteps(steps),
    stats: () => {
      noteBuffered();
      return { ...stats, dlq: { ...stats.dlq } };
    },
    flush,
  };
}

/** Waits for every write (none left running behind a failure), then throws the first failure. */
async function settled(writes: Array<Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
