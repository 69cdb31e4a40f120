import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, ConsumerRunConfig, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Topics } from '../src/config/env.ts';
import { createReliableProducer, createTransactionalProducer } from '../src/kafka/client.ts';
import { createTransactor, TransactionFailedError, type Transactor } from '../src/kafka/transactor.ts';
import { runWithRestart } from '../src/kafka/restart-on-crash.ts';
import { chunkByBytes } from '../src/kafka/chunk-by-bytes.ts';
import { createOrderedSender, type OrderedSenderMetrics } from '../src/kafka/ordered-sender.ts';
import type { ControlCommand } from '../src/contracts/control.ts';
import type { Finding } from '../src/contracts/finding.ts';
import { heartbeatCommand } from '../src/control/operator.ts';
import { signCommand, type KeyRing } from '../src/control/sign.ts';
import { createPartitionProgress, parseCommitMetadata, type PartitionProgress } from '../src/engine/partition-progress.ts';
import { createPartialBuffer } from '../src/engine/partial-buffer.ts';
import { partialRoutingKey } from '../src/engine/partial-routing.ts';
import { createPerRunStage, type Emission, type PerRunStage } from '../src/engine/per-run-stage.ts';
import type { SpanEvent } from '../src/contracts/span.ts';
import { detectorErrorMessage } from '../src/ingest/dlq.ts';
import { createBatchWriter, type BatchWriter, type TableSink } from '../src/ingest/batch-writer.ts';
import { decodeSpan } from '../src/ingest/decode.ts';
import type { Logger } from '../src/log.ts';
import type { StageMetrics } from '../src/metrics/stage-metrics.ts';
import type { Policy } from '../src/policy/policy.ts';
import { commandToRow, dlqToRow, findingToRow } from '../src/store/rows.ts';
import { retry } from '../src/util/retry.ts';
import { runSteps, type ShutdownSteps } from './shutdown.ts';
import type { CohortPartial } from '../src/windows/cohort-partial.ts';

export interface PipelineOptions {
  kafka: Kafka;
  /** Audit rows (findings, control_commands) go here: the Store, or an in-memory double. */
  sink: TableSink;
  topics: Topics;
  logger: Logger;
  policy: Policy;
  keyRing: KeyRing;
  groupId?: string;
  /** Heartbeats on the control topic this often (ms, default 5,000); 0 turns them off. */
  heartbeatIntervalMs?: number;
  /** Names this warden process in its heartbeats (default: a random id per process). */
  wardenId?: string;
  /** Offsets are committed this often, after the audit rows are in ClickHouse (ms, default 1,000). */
  commitIntervalMs?: number;
  /** Wall clock for heartbeats and the decoder's future check (injected in tests). */
  now?: () => number;
  fromBeginning?: boolean;
  /** How long the group waits for a silent (crashed) member before moving its partitions (ms, default 15,000). */
  sessionTimeoutMs?: number;
  /**
   * Forward per-cohort partials to the partials topic for the cohort stage (default true). They
   * travel in a Kafka transaction with the offset commit: see commit().
   */
  forwardPartials?: boolean;
  /**
   * Yield to I/O mid-batch while a command waits behind the send in flight (default true), so that
   * its ack is read and the command leaves at once rather than at the end of the batch.
   */
  yieldForCommands?: boolean;
  /** Called after every batch with the running totals (tests and metrics await progress with it). */
  onProgress?: (stats: Readonly<PipelineStats>) => void;
  /** Counts consumed events, findings and commands, live runs, heartbeats (src/metrics); nothing when absent. */
  metrics?: Pick<StageMetrics, 'consumed' | 'emitted' | 'state' | 'heartbeatSent'>;
  /**
   * An extra per-run check that runs before the built-in detectors (tests inject one that
   * throws, to prove a poison event goes to the DLQ and the partition carries on).
   */
  extraDetector?: { name: string; apply(event: SpanEvent): void };
}

export interface PipelineStats {
  events: number;
  /** Messages the decoder rejected (the ingest consumer sends them to the DLQ). */
  invalid: number;
  duplicates: number;
  /** Events a detector threw on: sent to the DLQ (`detector_error`), the partition goes on. */
  detectorErrors: number;
  /** Events re-applied after a restart or rebalance to rebuild run state, without emitting. */
  restored: number;
  findings: number;
  commands: Record<string, number>;
  heartbeats: number;
  commits: number;
  liveRuns: number;
  /** Cohort partials forwarded (committed) to the cohort stage. */
  partials: number;
  /** Background delivery of findings and commands (cumulative; see src/kafka/ordered-sender.ts). */
  delivery: OrderedSenderMetrics;
}

export interface PipelineConsumer {
  start(): Promise<void>;
  /** Written order (consumers/shutdown.ts): stop heartbeats and fetching, flush audit rows, commit offsets, disconnect. */
  stop(): Promise<void>;
  /** The same, one step at a time, for an ordered shutdown of several stages. */
  readonly steps: ShutdownSteps;
  stats(): PipelineStats;
}

interface PartitionState {
  stage: PerRunStage;
  progress: PartitionProgress;
}

/** Longest idle fetch (ms); the fetch loop counts as stuck after missing a few of them. */
const FETCH_MAX_WAIT_MS = 500;

/** A commit transaction must finish within this (ms); the broker aborts one a crashed warden left open after it. */
const TRANSACTION_TIMEOUT_MS = 10_000;

/**
 * Events handled between two commit points (and hand-overs of findings that carry no command).
 * A command is queued for sending as soon as it exists, whatever the chunk.
 */
const DELIVERY_CHUNK = 100;

/**
 * Every CHECK_EVERY events the loop checks that the batch is still current. It does not yield
 * to I/O at every check: on a busy machine a send started mid-batch (once its predecessor's ack is
 * read) wakes the broker and costs the loop its core more often than it saves (measured: more,
 * smaller sends and ~50 % more wall time per event). It yields only while a command waits behind
 * the send in flight (see yieldForCommands): commands are a small share of the output.
 */
const CHECK_EVERY = 16;

/** Value bytes of partials per produce request inside a commit transaction (well under the broker's 1 MiB default). */
const PARTIALS_REQUEST_BYTES = 256 * 1024;

/** Lets the event loop read sockets (a send's ack) before the next event is handled. */
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The per-run detection consumer (SPEC §3 items 1–2, §4): agent.spans → step-cap and tool-loop
 * per run → findings to runwarden.findings, signed commands to agent.control, both audited in
 * ClickHouse. Partitions are keyed by run_id, so each partition's runs are complete here.
 *
 * Exactly-once output without a checkpoint store: see partition-progress.ts. On every (re)join
 * of the group, run state is dropped and rebuilt from the committed offsets.
 */
export function createPipelineConsumer(options: PipelineOptions): PipelineConsumer {
  const { kafka, topics, logger, policy, keyRing } = options;
  const log = logger.child({ component: 'pipeline' });
  const now = options.now ?? Date.now;
  const groupId = options.groupId ?? 'runwarden-detect';
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
  const wardenId = options.wardenId ?? `warden-${randomUUID().slice(0, 8)}`;
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 15_000,
    heartbeatInterval: 1_500,
    maxBytesPerPartition: 2 * 1024 * 1024,
    // An idle fetch returns after this long: it bounds how stale the fetch loop's liveness can look.
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
  });
  const producer: Producer = createReliableProducer(kafka);
  const forwardPartials = options.forwardPartials ?? true;
  const yieldForCommands = options.yieldForCommands ?? true;
  /** Commits offsets, with the partials they cover, in one transaction (only when forwarding partials). */
  const committer: Transactor | undefined = forwardPartials
    ? createTransactor(() => createTransactionalProducer(kafka, `${groupId}-${wardenId}`, TRANSACTION_TIMEOUT_MS), log)
    : undefined;
  /** Partials of the recorded commit points, coalesced per (view, cohort, minute) until the next commit. */
  let pendingPartials = createPartialBuffer();
  const admin: Admin = kafka.admin();
  const writer: BatchWriter = createBatchWriter({ sink: options.sink, logger, maxRows: 1_000, flushIntervalMs: options.commitIntervalMs ?? 1_000 });
  const stats: PipelineStats = {
    events: 0,
    invalid: 0,
    duplicates: 0,
    detectorErrors: 0,
    restored: 0,
    findings: 0,
    commands: {},
    heartbeats: 0,
    commits: 0,
    liveRuns: 0,
    partials: 0,
    get delivery() {
      return sender.metrics();
    },
  };

  let partitions = new Map<number, PartitionState>();
  /** Committed high-water marks of this generation, fetched once per (re)join. */
  let committed: Promise<Map<number, bigint | undefined>> | undefined;
  /** Commit points waiting for the audit rows before them to reach ClickHouse. */
  let pendingCommits = new Map<number, { offset: string; metadata: string }>();
  let generation = 0;
  let lastFetchMs = 0;
  let sequence = 0;
  let commitTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let committing: Promise<void> = Promise.resolve();
  /**
   * The offsets-and-partials transaction in flight (never the ClickHouse flush before it): a
   * rejoined generation reads the committed offsets after it, when its outcome is known.
   */
  let transacting: Promise<void> = Promise.resolve();
  /** The high-water mark of this process's last successful commit, per partition. */
  const ownCommitted = new Map<number, bigint>();
  /** The batch being handled, so that stop() can wait for it before the last commit. */
  let inFlight: Promise<void> = Promise.resolve();
  /** A poison event's DLQ copy, queued by applyGuarded. */
  let dlqQueued: Promise<void> | undefined;
  /** Set by stop(): no batch starts, and the one in hand ends at its next check. */
  let stopRequested = false;
  const stopping = new AbortController();

  async function fetchCommitted(): Promise<Map<number, bigint | undefined>> {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topics.spans] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, parseCommitMetadata(p.metadata)]));
  }

  async function partitionState(partition: number): Promise<PartitionState> {
    const known = partitions.get(partition);
    if (known) return known;
    // After a commit in flight when the group rejoined: its offsets are either committed or not by then.
    committed ??= transacting.then(fetchCommitted);
    // Right after a commit, the group's offsets can still read as the previous ones: the broker
    // answers the commit before the transaction markers are written (kafkajs cannot ask for stable
    // offsets, KIP-447). What this process itself committed last is committed: never rebuild from less.
    const fetched = (await committed).get(partition);
    const own = ownCommitted.get(partition);
    const restoreUntil = own !== undefined && (fetched === undefined || own > fetched) ? own : fetched;
    const progress = createPartitionProgress(restoreUntil);
    const stage = createPerRunStage({ policy, keyRing, partials: forwardPartials, onEvict: (entry) => progress.evicted(entry.runId) });
    const state: PartitionState = { stage, progress };
    partitions.set(partition, state);
    if (restoreUntil !== undefined) log.info({ partition, restoreUntil: String(restoreUntil) }, 'rebuilding run state from the committed offset');
    return state;
  }

  /**
   * Findings and commands go out in the background, in order, one batch at a time (acks from all
   * replicas); the fetch loop goes on meanwhile and only waits when too many are queued.
   */
  const sender = createOrderedSender({
    send: (topicMessages) =>
      retry(() => producer.sendBatch({ acks: -1, topicMessages }).then(() => undefined), {
        retries: Infinity,
        signal: stopping.signal,
        // kafkajs gives up on a broker away for long with a non-retriable error; the queue waits
        // for it instead (fetching pauses when it is full) rather than a rebuild from the commits.
        isRetriable: () => !stopping.signal.aborted,
        onRetry: (err, attempt) => log.warn({ err, attempt }, 'delivering commands failed; retrying'),
      }),
  });

  /**
   * Queues findings and commands; once acknowledged, their audit rows go to the writer. Findings
   * without a command are lazy: they ride along with the next command's send (or go within 50 ms).
   */
  function deliver(findings: Finding[], commands: ControlCommand[]): Promise<void> {
    const topicMessages: Array<{ topic: string; messages: Message[] }> = [];
    if (findings.length > 0) topicMessages.push({ topic: topics.findings, messages: findings.map((f) => ({ key: f.scope.id, value: JSON.stringify(f) })) });
    if (commands.length > 0) topicMessages.push({ topic: topics.control, messages: commands.map((c) => ({ key: c.scope.id, value: JSON.stringify(c) })) });
    const audit = async () => {
      stats.findings += findings.length;
      for (const c of commands) stats.commands[c.action] = (stats.commands[c.action] ?? 0) + 1;
      options.metrics?.emitted(findings, commands);
      await writer.add('findings', findings.map(findingToRow));
      await writer.add('control_commands', commands.map((c) => commandToRow(c, { source: 'pipeline' })));
    };
    return sender.enqueue(topicMessages, audit, { lazy: commands.length === 0 });
  }

  /**
   * A partition's commit point becomes committable only once every send queued before it is
   * acknowledged and its audit rows are with the writer (the marker runs after them, in order),
   * and only if the group generation it was taken in is still the current one.
   */
  function markCommitPoint(partition: number, gen: number, point: { offset: string; metadata: string }, partials: readonly CohortPartial[]): Promise<void> {
    return sender.enqueue(undefined, () => {
      if (gen !== generation) return;
      pendingCommits.set(partition, point);
      for (const partial of partials) pendingPartials.add(partial);
    });
  }


  /**
   * Whether a transaction whose commit got no answer landed: once its outcome is final (settle:
   * the producer's next registration fences it), the group's committed offsets are its own or not.
   * Kept trying while the broker is away (the commit chain waits; fetching goes on).
   */
  async function landed(offsets: ReadonlyArray<{ partition: number; offset: string; metadata: string }>): Promise<boolean> {
    const settle = async () => {
      await committer?.settle();
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topics.spans] });
      return new Map((entry?.partitions ?? []).map((p) => [p.partition, p]));
    };
    const now = await retry(settle, {
      retries: Infinity,
      signal: stopping.signal,
      maxDelayMs: 5_000,
      isRetriable: () => !stopping.signal.aborted,
      onRetry: (err, attempt) => log.warn({ err, attempt }, 'settling a failed commit; retrying'),
    });
    return offsets.every((o) => now.get(o.partition)?.offset === o.offset && now.get(o.partition)?.metadata === o.metadata);
  }

  /** Commits what is safe: the commit points taken before the audit rows they cover were flushed. */
  function commit(): Promise<void> {
    // After a failed commit (logged by its caller) the next one still runs: a rejected chain would stop committing for good.
    committing = committing.catch(() => undefined).then(async () => {
      if (pendingCommits.size === 0) return;
      const snapshot = pendingCommits;
      const partials = pendingPartials;
      const gen = generation;
      pendingCommits = new Map();
      pendingPartials = createPartialBuffer();
      await writer.flush();
      if (gen !== generation) return; // partitions moved meanwhile: the new owner rebuilds from the last commit
      const offsets = [...snapshot].map(([partition, point]) => ({ topic: topics.spans, partition, ...point }));
      try {
        if (committer) {
          // Partials and offsets together or not at all: a crash before the commit leaves the
          // partials invisible to the cohort stage (read_committed), and the restart forwards them
          // again from the last committed high-water mark; a crash after it never forwards them twice.
          const forwarded = partials.drain();
          let done!: () => void;
          transacting = new Promise<void>((r) => (done = r));
          try {
            await committer.run(async (tx) => {
              // In requests of at most PARTIALS_REQUEST_BYTES: a backlog's worth of partials in one
              // record batch would pass the broker's message.max.bytes (1 MiB by default) and be
              // refused, every retry larger than the last.
              for (const messages of chunkByBytes(forwarded.map((p) => ({ key: partialRoutingKey(p, policy), value: JSON.stringify(p) })), PARTIALS_REQUEST_BYTES)) {
                await tx.send({ topic: topics.partials, acks: -1, messages });
              }
              await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: topics.spans, partitions: offsets.map(({ partition, offset, metadata }) => ({ partition, offset, metadata })) }] });
            });
          } catch (err) {
            // A commit that failed without an answer may have landed; forwarding its partials
            // again would count them twice at the cohort stage. The committed offsets say which.
            if (!(err instanceof TransactionFailedError && err.outcome === 'unknown' && (await landed(offsets)))) {
              if (gen === generation) for (const p of forwarded) pendingPartials.add(p);
              throw err;
            }
            log.warn({ err }, 'the commit that failed without an answer had landed');
          } finally {
            done();
          }
          stats.partials += forwarded.length;
        } else {
          await consumer.commitOffsets(offsets);
        }
        stats.commits++;
        for (const o of offsets) {
          const hw = parseCommitMetadata(o.metadata);
          if (hw !== undefined) ownCommitted.set(o.partition, hw);
        }
      } catch (err) {
        // A rebalance in progress: the next join rebuilds from the last successful commit.
        log.warn({ err }, 'offset commit failed; will retry with the next commit point');
        for (const [p, point] of snapshot) if (!pendingCommits.has(p)) pendingCommits.set(p, point);
      }
    });
    return committing;
  }

  /**
   * Records the partition's commit point behind every output queued so far, with the partials of
   * the events up to it. Called at every chunk and batch end, where `progress` and the stage agree.
   * Marking less often saves a drain and a coalescing pass per mark, but coarser partials split
   * cohort episodes differently from replay after a restart (tried at 200 ms: the SIGKILL chaos
   * test saw an extra llm_rate throttle); not before the cohort stage orders partials by event time.
   */
  function markPartition(partition: number, state: PartitionState, gen: number): Promise<void> {
    const point = state.progress.commitPoint();
    const partials = state.stage.drainPartials();
    return point ? markCommitPoint(partition, gen, point, partials) : Promise.resolve();
  }

  async function beat(): Promise<void> {
    // Beat only while the fetch loop turns: a stuck or backpressured warden goes silent, and the
    // guards fail closed (by default) rather than trusting a warden that no longer enforces.
    if (now() - lastFetchMs > Math.max(3 * heartbeatIntervalMs, 4 * FETCH_MAX_WAIT_MS)) return;
    const command = signCommand(
      heartbeatCommand({ issuedAt: now(), sequence: ++sequence, wardenId, ttlMs: 3 * heartbeatIntervalMs }),
      keyRing,
    );
    await producer.send({ topic: topics.control, acks: -1, messages: [{ key: 'heartbeat', value: JSON.stringify(command) }] });
    stats.heartbeats++;
    options.metrics?.heartbeatSent(command.issued_at);
  }

  /**
   * The detectors over one event; one that throws costs that event only: it goes to the DLQ with
   * the detector and its error (once: not again while rebuilding state after a restart) and the
   * partition goes on. What the run state holds of the event is whatever applied before the throw.
   */
  function applyGuarded(stage: PerRunStage, event: SpanEvent, message: KafkaMessage, partition: number, restoring: boolean): Emission[] {
    let detector = options.extraDetector?.name ?? 'per-run';
    try {
      options.extraDetector?.apply(event);
      detector = 'per-run';
      return stage.apply(event);
    } catch (error) {
      stats.detectorErrors++;
      if (restoring) return [];
      log.error({ err: error, detector, partition, offset: message.offset, runId: event.run_id }, 'a detector threw; the event goes to the DLQ');
      const source = { topic: topics.spans, partition, offset: message.offset };
      const { message: dlq, text } = detectorErrorMessage(message, { detector, error }, source, now());
      const row = dlqToRow({ tsMs: now(), reason: 'detector_error', message: text, ...source, value: message.value });
      // Queued in order, ahead of the commit point that covers it (the loop awaits this).
      dlqQueued = sender.enqueue([{ topic: topics.dlq, messages: [dlq] }], () => writer.add('dlq_events', [row]));
      return [];
    }
  }

  /**
   * One fetched batch of one partition: decode, apply, queue what is found. Sends run in the
   * background; the loop only waits for a full send queue.
   */
  async function handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // A failed send stops the loop until the consumer rejoins and rebuilds from the commits.
    if (sender.failure !== undefined) throw new Error('delivery stopped after a failed send', { cause: sender.failure });
    if (stopRequested) return;
    const gen = generation;
    const state = await partitionState(batch.partition);
    const { stage, progress } = state;
    const consumedBefore = stats.events + stats.invalid;
    await handleMessages();
    stats.liveRuns = 0;
    for (const p of partitions.values()) stats.liveRuns += p.stage.runs.size;
    options.metrics?.consumed('detect', stats.events + stats.invalid - consumedBefore);
    options.metrics?.state('detect', { liveRuns: stats.liveRuns, pendingRows: writer.buffered() });
    options.onProgress?.(stats);

    async function handleMessages(): Promise<void> {
      const decodeOptions = { nowMs: now() };
      const messages = batch.messages;
      let findings: Finding[] = [];
      let commands: ControlCommand[] = [];
      let last: string | undefined;
      let sinceChunk = 0;
      let sinceCheck = 0;
      // Offsets only grow, so once one is past the restore point every later one is: no BigInt per
      // event after that, except for a run's first event (progress.opened).
      let restoring = true;
      for (let i = 0; i < messages.length; i++) {
        if (sinceCheck === 0) {
          if (gen !== generation || stopRequested || !isRunning() || isStale()) break;
          // A command queued behind the send in flight waits for that send's ack, which sits
          // unread until this loop yields to I/O: yield then (rare: only while a command waits).
          if (yieldForCommands && sender.urgentWaiting()) await yieldToIo();
        }
        const message = messages[i] as KafkaMessage;
        if (restoring) restoring = progress.isRestoring(BigInt(message.offset));
        const decoded = decodeSpan(message.value, decodeOptions);
        if (decoded.ok) {
          stats.events++;
          const event = decoded.event;
          const isNew = stage.runs.get(event.run_id) === undefined;
          const duplicatesBefore = stage.duplicates;
          const emissions = applyGuarded(stage, event, message, batch.partition, restoring);
          if (dlqQueued) {
            await dlqQueued;
            dlqQueued = undefined;
          }
          if (stage.duplicates > duplicatesBefore) stats.duplicates++;
          if (isNew && stage.runs.get(event.run_id) !== undefined) progress.opened(event.run_id, BigInt(message.offset));
          if (restoring) {
            stats.restored++;
            // Forwarded before the restart, in a committed transaction: rebuild the state only.
            if (forwardPartials) stage.drainPartials();
          } else {
            for (const e of emissions) {
              findings.push(e.finding);
              if (e.command) commands.push(e.command);
            }
          }
        } else {
          stats.invalid++;
        }
        last = message.offset;
        if (commands.length > 0) {
          // A command goes out at once, without waiting for the chunk (the abort latency).
          await deliver(findings, commands);
          findings = [];
          commands = [];
          if (yieldForCommands && sender.urgentWaiting()) await yieldToIo();
        }
        if (++sinceChunk >= DELIVERY_CHUNK) {
          sinceChunk = 0;
          if (findings.length > 0) await deliver(findings, commands);
          findings = [];
          await commitPointAfter(last);
        }
        if (++sinceCheck >= CHECK_EVERY) sinceCheck = 0;
      }
      if (findings.length > 0 || commands.length > 0) await deliver(findings, commands);
      await commitPointAfter(last);
    }

    /** Everything up to `lastOffset` is applied and its output queued: resolve it, and queue the partition's commit point behind it. */
    async function commitPointAfter(lastOffset: string | undefined): Promise<void> {
      if (lastOffset === undefined || gen !== generation) return;
      // processed() keeps the highest.
      progress.processed(BigInt(lastOffset));
      resolveOffset(lastOffset);
      await markPartition(batch.partition, state, gen);
      await heartbeat();
    }
  }

  /** The written shutdown order (consumers/shutdown.ts), this consumer's part in each step. */
  const steps: ShutdownSteps = {
    async stop_fetching() {
      clearInterval(heartbeatTimer);
      // Stop fetching and let the batch in hand stop at its next check (what it applied is queued).
      stopRequested = true;
      consumer.pause([{ topic: topics.spans }]);
      await inFlight;
    },
    async flush_sinks() {
      // Every queued finding and command is sent (and its commit point recorded) before the last commit.
      await sender.drain();
      clearInterval(commitTimer);
      await writer.flush();
    },
    async commit() {
      // Still in the group: kafkajs cannot commit once stop() has left it.
      await commit();
    },
    async disconnect() {
      await consumer.stop();
      stopping.abort();
      await writer.close();
      await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect(), committer?.disconnect()]);
      log.info({ stats }, 'pipeline consumer stopped');
    },
  };

  return {
    async start() {
      await Promise.all([consumer.connect(), producer.connect(), admin.connect(), committer?.connect()]);
      await consumer.subscribe({ topic: topics.spans, fromBeginning: options.fromBeginning ?? true });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        // Fetching resumes from the committed offsets: drop state so it is rebuilt, never double-applied.
        generation++;
        partitions = new Map();
        pendingCommits = new Map();
        pendingPartials = createPartialBuffer();
        committed = undefined;
        // After a failed send (which stopped the fetch loop), start over from the committed offsets.
        sender.reset();
      });
      consumer.on(consumer.events.FETCH_START, () => {
        lastFetchMs = now();
        // The first beat goes out as soon as the fetch loop turns, not an interval later.
        if (sequence === 0 && heartbeatIntervalMs > 0) void beat().catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
      });
      const runConfig: ConsumerRunConfig = {
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => {
          let finished!: () => void;
          inFlight = new Promise<void>((r) => (finished = r));
          try {
            await handleBatch(payload);
          } finally {
            finished();
          }
        },
      };
      await runWithRestart(consumer, { topic: topics.spans, fromBeginning: options.fromBeginning ?? true, runConfig, logger: log, isStopping: () => stopRequested });
      commitTimer = setInterval(() => void commit().catch((err: unknown) => log.error({ err }, 'commit failed')), options.commitIntervalMs ?? 1_000);
      if (heartbeatIntervalMs > 0) {
        heartbeatTimer = setInterval(() => void beat().catch((err: unknown) => log.warn({ err }, 'heartbeat failed')), heartbeatIntervalMs);
      }
      log.info({ groupId, topic: topics.spans, wardenId }, 'pipeline consumer started');
    },

    steps,
    stop: () => runSteps(steps),

    stats: () => ({ ...stats, commands: { ...stats.commands } }),
  };
}
