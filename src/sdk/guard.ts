import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { ControlCommand } from '../contracts/control.ts';
import { RunwardenError, RunwardenMisuseError } from './errors.ts';
import { createGuardCore, type GuardCoreOptions, type GuardStats } from './guard-core.ts';
import type { StepContext } from './scope-match.ts';

export interface GuardOptions extends GuardCoreOptions {
  kafka: Kafka;
  /** The control topic. Default `agent.control`. */
  topic?: string;
  /** Commands older than this (ms, by Kafka timestamp) are not read at start. Default 24 h. */
  lookbackMs?: number;
  /** start() rejects when it has not caught up with the topic within this (ms). Default 30,000. */
  startTimeoutMs?: number;
  /** Consumer group; default a fresh one per guard, since every guard must read every command. */
  groupId?: string;
}

export interface Guard {
  /**
   * Connects and reads the commands of the last `lookbackMs`; resolves once caught up with the
   * topic's end as it was at the call. Rejects when Kafka cannot be reached or the catch-up
   * takes longer than `startTimeoutMs`. Until it resolves, check() fails closed (or open).
   */
  start(): Promise<void>;
  /**
   * Call before every step. Throws RunAbortedError when the run or a scope it belongs to is
   * stopped (abort, kill switch), WardenUnavailableError when failing closed, and waits out
   * throttles. Nothing else is ever thrown.
   */
  check(ctx: StepContext): Promise<void>;
  /** Tells the guard a run ended, so that it stops counting against max_concurrent_runs. */
  endRun(runId: string): void;
  /** Disconnects. Idempotent; check() keeps answering from the last state (and fails closed once heartbeats are stale). */
  stop(): Promise<void>;
  stats(): GuardStats;
  /** The live aborts, kill switches and throttles (for inspection). */
  live(): ControlCommand[];
}

/**
 * The agent-side guard (SPEC §2) over kafkajs: consumes the control topic, verifies every
 * command's HMAC, refuses and counts unsigned, forged, unknown-key, expired and replayed ones,
 * keeps the live set, and enforces it in check(). See guard-state.ts for what is enforced.
 */
export function createGuard(options: GuardOptions): Guard {
  const topic = options.topic ?? 'agent.control';
  const lookbackMs = options.lookbackMs ?? 86_400_000;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const core = createGuardCore(options);
  // Every guard reads every command: a group of its own, never shared with another process.
  const consumer: Consumer = options.kafka.consumer({
    groupId: options.groupId ?? `runwarden-guard-${randomUUID()}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    // A short long-poll: stop() waits for the fetch in flight (ms). Messages still arrive at once.
    maxWaitTimeInMs: 1_000,
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.CRASH, (e) => core.report(e.payload.error, `guard consumer crashed (restart: ${String(e.payload.restart)})`));
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let abandon: (() => void) | undefined;

  /** Per partition, the last offset present at start: caught up once each was read. */
  async function catchUpTargets(): Promise<{ from: Array<{ partition: number; offset: string }>; last: Map<number, bigint> }> {
    const admin = options.kafka.admin();
    await admin.connect();
    try {
      // Kafka timestamps are wall-clock: the lookback uses the wall clock, not options.now.
      const from = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - lookbackMs);
      const ends = await admin.fetchTopicOffsets(topic);
      const last = new Map<number, bigint>();
      for (const p of ends) {
        const start = BigInt(from.find((f) => f.partition === p.partition)?.offset ?? p.high);
        if (BigInt(p.high) > start) last.set(p.partition, BigInt(p.high) - 1n);
      }
      return { from, last };
    } finally {
      await admin.disconnect();
    }
  }

  async function run(): Promise<void> {
    const { from, last } = await catchUpTargets();
    if (stopping) return;
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    abandon = caughtUp;
    if (last.size === 0) caughtUp();
    await consumer.connect();
    if (stopping) return;
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const target = last.get(partition);
        core.receive(message.value, { partition, offset: message.offset }, { history: target !== undefined && BigInt(message.offset) < target });
        if (target !== undefined && BigInt(message.offset) >= target) {
          last.delete(partition);
          if (last.size === 0) caughtUp();
        }
      },
    });
    for (const p of from) consumer.seek({ topic, partition: p.partition, offset: p.offset });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RunwardenError(`guard did not catch up with ${topic} within ${startTimeoutMs} ms`, { retriable: true })),
        startTimeoutMs,
      );
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
    const { applied, rejected } = core.stats();
    core.info({ topic, lookbackMs, applied, rejected }, 'guard caught up with the control topic');
  }

  function start(): Promise<void> {
    if (stopping) return Promise.reject(new RunwardenMisuseError('guard.start() after stop()'));
    starting ??= run().catch(async (err: unknown) => {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    });
    return starting;
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      abandon?.(); // a start() still catching up resolves rather than hang
      await consumer.disconnect().catch((err: unknown) => core.report(err, 'guard consumer disconnect failed'));
    })();
    return stopping;
  }

  return {
    start,
    check: core.check,
    endRun: core.endRun,
    stop,
    stats: core.stats,
    live: core.live,
  };
}
