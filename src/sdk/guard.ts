import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { controlCommandSchema, type ControlCommand } from '../contracts/control.ts';
import { verifyCommand, type KeyRing } from '../control/sign.ts';
import { RunAbortedError, WardenUnavailableError } from './errors.ts';
import { createGuardState } from './guard-state.ts';
import type { StepContext } from './scope-match.ts';

export type RejectReason = 'malformed' | 'unsigned' | 'bad_signature' | 'unknown_key' | 'expired' | 'replayed';

export interface GuardOptions {
  kafka: Kafka;
  /** The shared secrets; any key in the ring verifies (rotation), see RUNWARDEN_HMAC_KEYS. */
  keyRing: KeyRing;
  topic?: string;
  /** No heartbeat for this long (ms) → fail closed or open. Default 15,000. */
  heartbeatTimeoutMs?: number;
  /** 'closed' (default): check() throws WardenUnavailableError while the warden is silent. */
  failMode?: 'closed' | 'open';
  /** Commands older than this (ms) are not read at start. Default 24 h. */
  lookbackMs?: number;
  /** Upper bound on one throttle wait (ms). Default 60,000. */
  maxThrottleWaitMs?: number;
  /** Told about rejected commands and warnings; never throws into the agent. */
  onEvent?: (event: GuardEvent) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type GuardEvent =
  | { type: 'rejected'; reason: RejectReason; commandId?: string }
  | { type: 'applied'; command: ControlCommand }
  | { type: 'warn'; command: ControlCommand };

export interface Guard {
  /** Connects and reads the recent commands; resolves once caught up with the topic. */
  start(): Promise<void>;
  /**
   * Call before every step. Throws RunAbortedError when the run or its scope is stopped,
   * WardenUnavailableError when failing closed, and waits out throttles. Nothing else is thrown.
   */
  check(ctx: StepContext): Promise<void>;
  stop(): Promise<void>;
  stats(): { applied: number; rejected: Record<RejectReason, number> };
}

/**
 * The agent-side guard (SPEC §2): consumes the control topic, verifies every command's
 * HMAC, keeps the live set of aborts, kill switches and throttles, and enforces them in check().
 */
export function createGuard(options: GuardOptions): Guard {
  const topic = options.topic ?? 'agent.control';
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeout = options.heartbeatTimeoutMs ?? 15_000;
  const failMode = options.failMode ?? 'closed';
  const maxWait = options.maxThrottleWaitMs ?? 60_000;
  const onEvent = options.onEvent ?? (() => undefined);
  const state = createGuardState();
  const rejected: Record<RejectReason, number> = { malformed: 0, unsigned: 0, bad_signature: 0, unknown_key: 0, expired: 0, replayed: 0 };
  let applied = 0;
  let startedAt = now();
  // Every guard reads every command: a group of its own, never shared with another process.
  const consumer: Consumer = options.kafka.consumer({ groupId: `runwarden-guard-${randomUUID()}`, sessionTimeout: 10_000, heartbeatInterval: 1_000 });

  function reject(reason: RejectReason, commandId?: string): void {
    rejected[reason]++;
    onEvent(commandId === undefined ? { type: 'rejected', reason } : { type: 'rejected', reason, commandId });
  }

  function receive(value: Buffer | null): void {
    let json: unknown;
    try {
      json = JSON.parse(value?.toString('utf8') ?? '');
    } catch {
      return reject('malformed');
    }
    const commandId = typeof (json as { command_id?: unknown })?.command_id === 'string' ? (json as { command_id: string }).command_id : undefined;
    if (json !== null && typeof json === 'object' && !('signature' in json)) return reject('unsigned', commandId);
    const parsed = controlCommandSchema.safeParse(json);
    if (!parsed.success) return reject('malformed', commandId);
    const verdict = verifyCommand(parsed.data, options.keyRing, now());
    if (!verdict.ok) return reject(verdict.reason, commandId);
    if (!state.apply(parsed.data, now())) return reject('replayed', commandId);
    applied++;
    onEvent({ type: parsed.data.action === 'warn' ? 'warn' : 'applied', command: parsed.data });
  }

  async function start(): Promise<void> {
    startedAt = now();
    const admin = options.kafka.admin();
    await admin.connect();
    const from = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - (options.lookbackMs ?? 86_400_000));
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const pending = new Map(ends.filter((p) => BigInt(p.high) > BigInt(from.find((f) => f.partition === p.partition)?.offset ?? p.high)).map((p) => [p.partition, BigInt(p.high) - 1n]));
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => (caughtUp = r));
    if (pending.size === 0) caughtUp();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        receive(message.value);
        const last = pending.get(partition);
        if (last !== undefined && BigInt(message.offset) >= last) {
          pending.delete(partition);
          if (pending.size === 0) caughtUp();
        }
      },
    });
    for (const p of from) consumer.seek({ topic, partition: p.partition, offset: p.offset });
    await ready;
  }

  async function check(ctx: StepContext): Promise<void> {
    const t = now();
    if (failMode === 'closed') {
      const last = state.lastHeartbeatMs() ?? startedAt;
      if (t - last > timeout) throw new WardenUnavailableError(t - last);
    }
    const decision = state.decide(ctx, t);
    if (decision.kind === 'abort') {
      const c = decision.command;
      throw new RunAbortedError({
        commandId: c.command_id,
        action: c.action === 'kill_switch' ? 'kill_switch' : 'abort',
        scope: c.scope,
        detector: c.reason.detector,
        rule: c.reason.rule,
        observed: c.reason.observed,
        threshold: c.reason.threshold,
        findingId: c.reason.finding_id,
        ...(c.reason.note !== undefined ? { note: c.reason.note } : {}),
      });
    }
    if (decision.kind === 'throttle') await sleep(Math.min(decision.delayMs, maxWait));
  }

  return {
    start,
    check,
    async stop() {
      await consumer.disconnect();
    },
    stats: () => ({ applied, rejected: { ...rejected } }),
  };
}
