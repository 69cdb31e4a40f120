import { randomUUID } from 'node:crypto';
import type { Consumer, ConsumerRunConfig, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Topics } from '../src/config/env.ts';
import type { KeyRing } from '../src/control/sign.ts';
import { createCohortStage, type CohortStage, type CohortStageSnapshot } from '../src/engine/cohort-stage.ts';
import type { Emission } from '../src/engine/per-run-stage.ts';
import { createBatchWriter, type BatchWriter, type TableSink } from '../src/ingest/batch-writer.ts';
import { detectorErrorMessage, type DetectorFailure } from '../src/ingest/dlq.ts';
import { createReliableProducer, createTransactionalProducer } from '../src/kafka/client.ts';
import { createTransactor, type Transactor } from '../src/kafka/transactor.ts';
import { readLatestByKey } from '../src/kafka/latest-by-key.ts';
import { runWithRestart } from '../src/kafka/restart-on-crash.ts';
import { CHECKPOINT_MAX_BYTES } from '../src/kafka/topics.ts';
import type { Logger } from '../src/log.ts';
import type { StageMetrics } from '../src/metrics/stage-metrics.ts';
import type { Policy } from '../src/policy/policy.ts';
import { commandToRow, findingToRow } from '../src/store/rows.ts';
import { createMutex } from '../src/util/mutex.ts';
import { retry } from '../src/util/retry.ts';
import { cohortPartialSchema, type CohortPartial } from '../src/windows/cohort-partial.ts';
import { runSteps, type ShutdownSteps } from './shutdown.ts';

export interface CohortConsumerOptions {
  kafka: Kafka;
  /** Audit rows (findings, control_commands): the Store, or an in-memory double. */
  sink: TableSink;
  topics: Topics;
  logger: Logger;
  policy: Policy;
  keyRing: KeyRing;
  groupId?: string;
  /**
   * Names the transactional producer of checkpoints. Keep it stable across restarts of the same
   * process slot: a restarted consumer then fences (aborts) the transaction its crashed
   * predecessor left open, instead of read_committed readers waiting for it to time out.
   */
  instanceId?: string;
  /** State is checkpointed and offsets committed this often (ms, default 10,000; a snapshot of 1k cohorts takes ~0.3 s, see bench/results/cohort.json). */
  checkpointIntervalMs?: number;
  fromBeginning?: boolean;
  /** How long the group waits for a silent (crashed) member before moving its partitions (ms, default 30,000). */
  sessionTimeoutMs?: number;
  onProgress?: (stats: Readonly<CohortConsumerStats>) => void;
  /** Counts consumed partials, findings and commands, cohorts, checkpoints (src/metrics); nothing when absent. */
  metrics?: Pick<StageMetrics, 'consumed' | 'emitted' | 'state' | 'checkpointed'>;
  /** An extra cohort check that runs before cost-spike and judge-drift (tests inject one that throws). */
  extraDetector?: { name: string; apply(partial: CohortPartial): void };
}

export interface CohortConsumerStats {
  partials: number;
  /** Partials skipped after a restore: already inside the restored checkpoint. */
  skipped: number;
  /** Messages that are not cohort partials (logged; the topic is internal, so this is a bug or a stranger). */
  invalid: number;
  /** Partials a detector threw on: sent to the DLQ topic (`detector_error`), the partition goes on. */
  detectorErrors: number;
  findings: number;
  commands: Record<string, number>;
  checkpoints: number;
  restoredPartitions: number;
}

export interface CohortConsumer {
  start(): Promise<void>;
  /** Written order (consumers/shutdown.ts): stop fetching, finish the batch in hand, flush, checkpoint + commit, disconnect. */
  stop(): Promise<void>;
  /** The same, one step at a time, for an ordered shutdown of several stages. */
  readonly steps: ShutdownSteps;
  stats(): CohortConsumerStats;
}

/** A partial a cohort detector threw on, on its way to the DLQ. */
interface Poisoned {
  message: KafkaMessage;
  partition: number;
  failure: DetectorFailure;
}

/** A checkpoint: the stage's state of one partition and the offset of the next partial to apply. */
interface Checkpoint {
  v: 1;
  offset: string;
  state: unknown;
}

interface PartitionState {
  stage: CohortStage;
  /** Partials below this offset are inside the restored state. */
  restoredUntil: bigint;
  /** Next offset to apply; what a checkpoint commits. */
  next: bigint | undefined;
  /** `next` as of the last checkpoint committed: the partition changed since when they differ. */
  checkpointed: bigint | undefined;
}

/** Longest a restore may wait for the checkpoint topic (a crashed writer's open transaction holds it until it times out). */
const RESTORE_TIMEOUT_MS = 90_000;
/** Transactions of this producer must finish within this (ms); a crashed one is aborted by the broker after it. */
const TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * The cohort stage (SPEC §3 items 3–4, §4): reads the per-cohort partials that the per-run stage
 * forwards (keyed by cohort, so one consumer sees every partial of a cohort), runs cost-spike and
 * judge-drift, sends findings and throttles, and audits them in ClickHouse.
 *
 * Crash and rebalance exactness: cohort state depends on up to weeks of history, so it cannot be
 * rebuilt by re-reading; it is checkpointed instead. Every `checkpointIntervalMs`, one Kafka
 * transaction writes each changed partition's state (compacted topic, key = group/partition) and
 * commits that partition's offset: state and offset move together or not at all. Before that,
 * every command and finding of the partials behind the state has been acknowledged by Kafka and
 * its audit row by ClickHouse. A restarted or newly assigned consumer restores the state and
 * resumes at the committed offset; partials re-read after a crash rebuild the same state and
 * re-emit the same command ids (the guards drop replays; ReplacingMergeTree collapses the audit rows).
 */
export function createCohortConsumer(options: CohortConsumerOptions): CohortConsumer {
  const { kafka, topics, logger, policy, keyRing } = options;
  const log = logger.child({ component: 'cohort' });
  const groupId = options.groupId ?? 'runwarden-cohort';
  const instanceId = options.instanceId ?? randomUUID().slice(0, 8);
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout, heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 4)), maxWaitTimeInMs: 500, readUncommitted: false });
  const producer: Producer = createReliableProducer(kafka);
  const checkpointer: Transactor = createTransactor(() => createTransactionalProducer(kafka, `${groupId}-${instanceId}`, TRANSACTION_TIMEOUT_MS), log);
  const writer: BatchWriter = createBatchWriter({ sink: options.sink, logger, maxRows: 1_000, flushIntervalMs: 1_000 });
  const stats: CohortConsumerStats = { partials: 0, skipped: 0, invalid: 0, detectorErrors: 0, findings: 0, commands: {}, checkpoints: 0, restoredPartitions: 0 };
  /** One batch or state-taking at a time. */
  const exclusive = createMutex();
  /** One checkpoint at a time (the timer's, the last one at shutdown). */
  const checkpointing = createMutex();
  /** The checkpoint transaction in flight: a restore reads the checkpoints after it, when its outcome is known. */
  let transacting: Promise<void> = Promise.resolve();
  const stopping = new AbortController();
  const checkpointKey = (partition: number) => `${groupId}/${topics.partials}/${partition}`;

  let partitions = new Map<number, PartitionState>();
  let generation = 0;
  let restored: Promise<Map<string, Buffer>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopRequested = false;

  async function partitionState(partition: number): Promise<PartitionState> {
    const known = partitions.get(partition);
    if (known) return known;
    restored ??= transacting.then(() => readLatestByKey(kafka, topics.checkpoints, { timeoutMs: RESTORE_TIMEOUT_MS, groupPrefix: groupId, keep: (k) => k.startsWith(`${groupId}/`) }));
    const raw = (await restored).get(checkpointKey(partition));
    const stage = createCohortStage({ policy, keyRing });
    let restoredUntil = 0n;
    if (raw) {
      const checkpoint = JSON.parse(raw.toString('utf8')) as Checkpoint;
      stage.restore(checkpoint.state);
      restoredUntil = BigInt(checkpoint.offset);
      stats.restoredPartitions++;
      log.info({ partition, offset: checkpoint.offset }, 'cohort state restored from its checkpoint');
    }
    const state: PartitionState = { stage, restoredUntil, next: undefined, checkpointed: undefined };
    partitions.set(partition, state);
    return state;
  }

  async function deliver(emissions: Emission[]): Promise<void> {
    if (emissions.length === 0) return;
    const findings = emissions.map((e) => e.finding);
    const commands = emissions.flatMap((e) => (e.command ? [e.command] : []));
    const topicMessages: Array<{ topic: string; messages: Message[] }> = [{ topic: topics.findings, messages: findings.map((f) => ({ key: f.scope.id, value: JSON.stringify(f) })) }];
    if (commands.length > 0) topicMessages.push({ topic: topics.control, messages: commands.map((c) => ({ key: c.scope.id, value: JSON.stringify(c) })) });
    // Every failure is retried until it goes or the consumer stops (kafkajs gives up on a broker
    // that is away for long with a non-retriable error): a batch must never fail after its partials
    // were applied, or kafkajs hands it over again and they would count twice.
    await retry(() => producer.sendBatch({ acks: -1, topicMessages }), {
      retries: Infinity,
      signal: stopping.signal,
      isRetriable: () => !stopping.signal.aborted,
      onRetry: (err, attempt) => log.warn({ err, attempt }, 'delivering cohort findings failed; retrying'),
    });
    stats.findings += findings.length;
    for (const c of commands) stats.commands[c.action] = (stats.commands[c.action] ?? 0) + 1;
    options.metrics?.emitted(findings, commands);
    await writer.add('findings', findings.map(findingToRow));
    await writer.add('control_commands', commands.map((c) => commandToRow(c, { source: 'pipeline' })));
  }

  /**
   * The cohort detectors over one partial; the failure when one threw (the partial then goes to the
   * DLQ with the detector and its error, and the partition goes on). The state keeps whatever the
   * partial changed before the throw.
   */
  function applyGuarded(stage: CohortStage, partial: CohortPartial, message: KafkaMessage, partition: number): Emission[] | DetectorFailure {
    let detector = options.extraDetector?.name ?? 'cohort';
    try {
      options.extraDetector?.apply(partial);
      detector = 'cohort';
      return stage.apply(partial);
    } catch (error) {
      stats.detectorErrors++;
      log.error({ err: error, detector, partition, offset: message.offset }, 'a cohort detector threw; the partial goes to the DLQ');
      return { detector, error };
    }
  }

  /** Sends the partials a detector threw on to the DLQ topic (before the checkpoint that passes them). */
  async function toDlq(poisoned: readonly Poisoned[]): Promise<void> {
    if (poisoned.length === 0) return;
    const messages = poisoned.map(({ message, partition, failure }) =>
      detectorErrorMessage(message, failure, { topic: topics.partials, partition, offset: message.offset }, Date.now()).message,
    );
    await retry(() => producer.send({ topic: topics.dlq, acks: -1, messages }), {
      retries: Infinity,
      signal: stopping.signal,
      isRetriable: () => !stopping.signal.aborted,
      onRetry: (err, attempt) => log.warn({ err, attempt }, 'sending poison partials to the DLQ failed; retrying'),
    });
  }

  /**
   * Writes the state of every changed partition and commits their offsets in one transaction.
   *
   * Only taking the states holds the batch lock: the ClickHouse flush and the transaction run
   * outside it, so a slow or unreachable ClickHouse never stalls cohort detection (nor makes the
   * member miss its heartbeats and leave the group). A state and its offset are taken together,
   * between two batches; the audit rows of everything in them were handed to the writer before
   * that batch ended, so the flush after covers them.
   */
  function checkpoint(): Promise<void> {
    return checkpointing(async () => {
      const taken = await exclusive(async () => {
        const changed: Array<{ partition: number; p: PartitionState; next: bigint; state: CohortStageSnapshot }> = [];
        for (const [partition, p] of partitions) {
          if (p.next !== undefined && p.next !== p.checkpointed) changed.push({ partition, p, next: p.next, state: p.stage.snapshot() });
        }
        return { gen: generation, changed };
      });
      if (taken.changed.length === 0) return;
      await writer.flush(); // the audit rows of everything in the states are in ClickHouse first
      if (taken.gen !== generation) return; // partitions moved meanwhile: the new owner restores the last checkpoint
      const messages: Message[] = [];
      const committed: typeof taken.changed = [];
      for (const c of taken.changed) {
        const value = JSON.stringify({ v: 1, offset: String(c.next), state: c.state } satisfies Checkpoint);
        if (Buffer.byteLength(value) > CHECKPOINT_MAX_BYTES) {
          log.error({ partition: c.partition, bytes: Buffer.byteLength(value) }, 'cohort state too large to checkpoint; its partition will be re-read after a restart');
          continue;
        }
        messages.push({ key: checkpointKey(c.partition), value });
        committed.push(c);
      }
      if (committed.length === 0) return;
      let done!: () => void;
      transacting = new Promise<void>((r) => (done = r));
      try {
        await checkpointer.run(async (tx) => {
          await tx.send({ topic: topics.checkpoints, acks: -1, messages });
          await tx.sendOffsets({
            consumerGroupId: groupId,
            topics: [{ topic: topics.partials, partitions: committed.map((c) => ({ partition: c.partition, offset: String(c.next) })) }],
          });
        });
      } finally {
        done();
      }
      // (A commit without an answer stays "changed": the next checkpoint writes a newer state.)
      for (const c of committed) c.p.checkpointed = c.next;
      stats.checkpoints++;
      options.metrics?.checkpointed(Date.now());
    });
  }

  /** The written shutdown order (consumers/shutdown.ts), this consumer's part in each step. */
  const steps: ShutdownSteps = {
    async stop_fetching() {
      stopRequested = true;
      consumer.pause([{ topic: topics.partials }]);
      clearInterval(timer);
      await exclusive(() => Promise.resolve()); // the batch in hand has delivered what it found
    },
    async flush_sinks() {
      await writer.flush();
    },
    async commit() {
      await checkpoint().catch((err: unknown) => log.error({ err }, 'last checkpoint failed; the next owner re-reads from the previous one'));
    },
    async disconnect() {
      await consumer.stop();
      stopping.abort();
      await writer.close();
      await Promise.allSettled([consumer.disconnect(), producer.disconnect(), checkpointer.disconnect()]);
      log.info({ stats }, 'cohort consumer stopped');
    },
  };

  return {
    async start() {
      await Promise.all([consumer.connect(), producer.connect(), checkpointer.connect()]);
      await consumer.subscribe({ topic: topics.partials, fromBeginning: options.fromBeginning ?? true });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        // Fetching resumes from the committed offsets: restore from the matching checkpoints.
        generation++;
        partitions = new Map();
        restored = undefined;
      });
      const runConfig: ConsumerRunConfig = {
        autoCommit: false,
        eachBatch: ({ batch, heartbeat, isRunning, isStale }) =>
          exclusive(async () => {
            if (stopRequested) return; // fetched before the pause: re-read by the next owner
            const gen = generation;
            const state = await partitionState(batch.partition);
            const emissions: Emission[] = [];
            const consumedBefore = stats.partials + stats.skipped + stats.invalid;
            const poisoned: Poisoned[] = [];
            for (const message of batch.messages) {
              if (!isRunning() || isStale()) break;
              const offset = BigInt(message.offset);
              // Inside the restored checkpoint, or already applied: a batch handed over again in
              // the same generation (kafkajs does after a failed eachBatch) must not count twice.
              if (offset < state.restoredUntil || (state.next !== undefined && offset < state.next)) {
                stats.skipped++;
                continue;
              }
              const partial = decodePartial(message.value);
              if (partial) {
                stats.partials++;
                const applied = applyGuarded(state.stage, partial, message, batch.partition);
                if (Array.isArray(applied)) emissions.push(...applied);
                else poisoned.push({ message, partition: batch.partition, failure: applied });
              } else {
                stats.invalid++;
                log.error({ partition: batch.partition, offset: message.offset }, 'not a cohort partial; skipped');
              }
              state.next = offset + 1n;
            }
            await deliver(emissions);
            await toDlq(poisoned);
            // A failed heartbeat must not fail the batch (applied, delivered): kafkajs rejoins by itself.
            if (gen === generation) await heartbeat().catch((err: unknown) => log.debug({ err }, 'heartbeat after a batch failed'));
            options.metrics?.consumed('cohort', stats.partials + stats.skipped + stats.invalid - consumedBefore);
            let cohorts = 0;
            for (const p of partitions.values()) cohorts += p.stage.size;
            options.metrics?.state('cohort', { cohorts, pendingRows: writer.buffered() });
            options.onProgress?.(stats);
          }),
      };
      await runWithRestart(consumer, { topic: topics.partials, fromBeginning: options.fromBeginning ?? true, runConfig, logger: log, isStopping: () => stopRequested });
      const every = options.checkpointIntervalMs ?? 10_000;
      timer = setInterval(() => void checkpoint().catch((err: unknown) => log.error({ err }, 'checkpoint failed; retrying at the next interval')), every);
      log.info({ groupId, topic: topics.partials }, 'cohort consumer started');
    },

    steps,
    stop: () => runSteps(steps),

    stats: () => ({ ...stats, commands: { ...stats.commands } }),
  };
}

function decodePartial(value: Buffer | null): CohortPartial | undefined {
  if (!value) return undefined;
  try {
    const parsed = cohortPartialSchema.safeParse(JSON.parse(value.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
