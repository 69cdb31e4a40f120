import type { ControlCommand } from '../contracts/control.ts';
import type { KeyRing } from '../control/sign.ts';
import { RunAbortedError, WardenUnavailableError } from './errors.ts';
import { createGuardState, type GuardStateSizes } from './guard-state.ts';
import { handleControlMessage, REJECT_REASONS, type RejectReason } from './handle-control-message.ts';
import type { StepContext } from './scope-match.ts';

/** Where a control message came from (Kafka partition and offset), when it came from Kafka. */
export interface MessageSource {
  partition: number;
  offset: string;
}

/** What the guard tells `onEvent` (synchronously; a throwing listener is ignored). */
export type GuardEvent =
  /** A verified command took effect (heartbeats included). */
  | { type: 'applied'; command: ControlCommand; source?: MessageSource }
  /** A verified `warn`: advisory, no effect on steps; reported here only. */
  | { type: 'warn'; command: ControlCommand; source?: MessageSource }
  /** A message refused and counted: unsigned, forged, unknown key, expired, replayed, malformed. */
  | { type: 'rejected'; reason: RejectReason; commandId?: string; source?: MessageSource }
  /** check() is holding a step back (`overrun`: the throttle wanted more than maxThrottleWaitMs). */
  | { type: 'throttled'; command: ControlCommand; runId: string; waitMs: number; overrun: boolean }
  /** check() stopped a step. */
  | { type: 'aborted'; command: ControlCommand; runId: string }
  /** The warden fell silent (reported once per silence), or came back. */
  | { type: 'warden_unavailable'; silentForMs: number | null; failMode: FailMode }
  | { type: 'warden_available' }
  /** Something failed inside the guard or its Kafka consumer. */
  | { type: 'error'; error: unknown };

export type FailMode = 'closed' | 'open';

/** The logging the guard needs; a pino logger fits. */
export interface GuardLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface GuardCoreOptions {
  /** The shared secrets; any key in the ring verifies (rotation), see RUNWARDEN_HMAC_KEYS. */
  keyRing: KeyRing;
  /** No heartbeat for this long (ms) → fail closed or open. Default 15,000. */
  heartbeatTimeoutMs?: number;
  /** Tolerated lag of the warden's clock behind ours (ms), see GuardState. Default 5,000. */
  maxClockSkewMs?: number;
  /** 'closed' (default): check() throws WardenUnavailableError while the warden is silent. */
  failMode?: FailMode;
  /** Upper bound on one throttle wait inside check() (ms). Default 60,000. */
  maxThrottleWaitMs?: number;
  /** A run with no step for this long (ms) no longer counts for max_concurrent_runs. Default 300,000. */
  runIdleMs?: number;
  /** Memory bounds: command ids remembered, live commands per kind, runs tracked. */
  maxRememberedIds?: number;
  maxLiveCommands?: number;
  maxActiveRuns?: number;
  onEvent?: (event: GuardEvent) => void;
  /** Rejections (warn; expired/replayed at info), throttle overruns, silence and errors. */
  logger?: GuardLogger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface GuardStats {
  /** Verified commands applied (heartbeats and warns included). */
  applied: number;
  rejected: Record<RejectReason, number>;
  warnings: number;
  heartbeats: number;
  /** Steps check() stopped, held back (throttled), or refused for want of a heartbeat. */
  steps: { aborted: number; throttled: number; unavailable: number };
  lastHeartbeatMs: number | undefined;
  live: GuardStateSizes;
}

/** The guard without its transport: feed it control messages, call check() before each step. */
export interface GuardCore {
  /**
   * One control message (the Kafka value). Never throws. `history`: read while catching up at
   * start, where expired and replayed commands are routine: counted, not logged one by one.
   */
  receive(bytes: Uint8Array | string | null, source?: MessageSource, options?: { history?: boolean }): void;
  check(ctx: StepContext): Promise<void>;
  endRun(runId: string): void;
  stats(): GuardStats;
  live(): ControlCommand[];
  /** Reports an error from outside (the transport) to onEvent and the logger. */
  report(error: unknown, msg: string): void;
  /** Logs at info through the guard's logger (the transport's milestones). */
  info(obj: object, msg: string): void;
}

/** Polling step (ms) while a full max_concurrent_runs holds a new run back. */
const CONCURRENCY_POLL_MS = 250;
const SECURITY_REJECTS: ReadonlySet<RejectReason> = new Set(['malformed', 'unsigned', 'bad_signature', 'unknown_key']);

/** The details a RunAbortedError carries, from the command that stopped the step. */
function abortError(c: ControlCommand): RunAbortedError {
  return new RunAbortedError({
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

/**
 * The transport-free guard: verification, counting, logging and the step check over the pure
 * GuardState. createGuard adds Kafka; tests and other transports feed `receive` directly.
 */
export function createGuardCore(options: GuardCoreOptions): GuardCore {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const failMode = options.failMode ?? 'closed';
  const maxWait = options.maxThrottleWaitMs ?? 60_000;
  const logger = options.logger;
  const state = createGuardState({
    maxDelayMs: maxWait,
    ...(options.heartbeatTimeoutMs !== undefined && { heartbeatTimeoutMs: options.heartbeatTimeoutMs }),
    ...(options.maxClockSkewMs !== undefined && { maxClockSkewMs: options.maxClockSkewMs }),
    ...(options.runIdleMs !== undefined && { runIdleMs: options.runIdleMs }),
    ...(options.maxRememberedIds !== undefined && { maxRememberedIds: options.maxRememberedIds }),
    ...(options.maxLiveCommands !== undefined && { maxLiveCommands: options.maxLiveCommands }),
    ...(options.maxActiveRuns !== undefined && { maxActiveRuns: options.maxActiveRuns }),
  });
  const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  const counts = { applied: 0, warnings: 0, heartbeats: 0 };
  const steps = { aborted: 0, throttled: 0, unavailable: 0 };
  let silent = false;

  function emit(event: GuardEvent): void {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's bug must not reach the agent or stop the consumer.
    }
  }

  function log(level: keyof GuardLogger, obj: object, msg: string): void {
    try {
      logger?.[level]({ component: 'runwarden-guard', ...obj }, msg);
    } catch {
      // Same for a logger's.
    }
  }

  function report(error: unknown, msg: string): void {
    log('error', { err: error }, msg);
    emit({ type: 'error', error });
  }

  function receive(bytes: Uint8Array | string | null, source?: MessageSource, opts: { history?: boolean } = {}): void {
    let result: ReturnType<typeof handleControlMessage>;
    try {
      result = handleControlMessage(bytes, options.keyRing, state, now());
    } catch (err) {
      return report(err, 'control message handling failed');
    }
    const at = source === undefined ? {} : { source };
    if (result.kind === 'rejected') {
      rejected[result.reason]++;
      const id = result.commandId === undefined ? {} : { commandId: result.commandId };
      // Forgeries and garbage are a security signal; expiry and replays are routine (a restart reads history).
      const security = SECURITY_REJECTS.has(result.reason);
      if (security || opts.history !== true) log(security ? 'warn' : 'info', { reason: result.reason, ...id, ...at }, `control command rejected: ${result.reason}`);
      emit({ type: 'rejected', reason: result.reason, ...id, ...at });
      return;
    }
    counts.applied++;
    const command = result.command;
    if (command.action === 'heartbeat') counts.heartbeats++;
    if (command.action === 'warn') {
      counts.warnings++;
      emit({ type: 'warn', command, ...at });
    } else {
      emit({ type: 'applied', command, ...at });
    }
  }

  /** Fails closed (throws) or open (passes) while no heartbeat is fresh. */
  function gate(t: number): void {
    const { alive, lastHeartbeatMs } = state.liveness(t);
    if (alive) {
      if (silent) {
        silent = false;
        log('info', {}, 'runwarden heartbeats are back');
        emit({ type: 'warden_available' });
      }
      return;
    }
    const silentForMs = lastHeartbeatMs === undefined ? null : t - lastHeartbeatMs;
    if (!silent) {
      silent = true;
      log('warn', { silentForMs, failMode }, `no fresh heartbeat from runwarden: failing ${failMode}`);
      emit({ type: 'warden_unavailable', silentForMs, failMode });
    }
    if (failMode === 'closed') {
      steps.unavailable++;
      throw new WardenUnavailableError(silentForMs);
    }
  }

  function stop(command: ControlCommand, ctx: StepContext): never {
    steps.aborted++;
    emit({ type: 'aborted', command, runId: ctx.runId });
    throw abortError(command);
  }

  function throttled(command: ControlCommand, ctx: StepContext, waitMs: number, overrun: boolean): void {
    steps.throttled++;
    if (overrun) log('warn', { commandId: command.command_id, runId: ctx.runId, waitMs }, 'throttle wants a longer wait than maxThrottleWaitMs: the step goes ahead');
    emit({ type: 'throttled', command, runId: ctx.runId, waitMs, overrun });
  }

  async function decideAndWait(ctx: StepContext): Promise<void> {
    const deadline = now() + maxWait;
    let force = false;
    for (;;) {
      const t = now();
      gate(t);
      const d = state.decide(ctx, t, { force });
      switch (d.kind) {
        case 'allow':
          return;
        case 'abort':
          return stop(d.command, ctx);
        case 'delay': {
          throttled(d.command, ctx, d.delayMs, d.overrun);
          await sleep(d.delayMs);
          // The world may have changed while we waited: an abort or silence still stops the step.
          const after = now();
          gate(after);
          const stopper = state.stopFor(ctx, after);
          if (stopper) stop(stopper, ctx);
          return;
        }
        case 'wait': {
          const left = deadline - t;
          if (left <= 0) {
            throttled(d.command, ctx, maxWait, true);
            force = true;
            continue;
          }
          await sleep(Math.min(d.retryMs, left, CONCURRENCY_POLL_MS));
          continue;
        }
      }
    }
  }

  /**
   * Call before every step. Throws RunAbortedError when an abort or kill switch covers the step,
   * WardenUnavailableError when failing closed, and waits out throttles. Nothing else is thrown:
   * a failure inside the guard fails closed (WardenUnavailableError with the cause) or open.
   */
  async function check(ctx: StepContext): Promise<void> {
    try {
      await decideAndWait(ctx);
    } catch (err) {
      if (err instanceof RunAbortedError || err instanceof WardenUnavailableError) throw err;
      report(err, 'guard check failed');
      if (failMode === 'closed') throw new WardenUnavailableError(null, { cause: err });
    }
  }

  return {
    receive,
    check,
    endRun: (runId) => state.endRun(runId),
    stats: () => ({
      ...counts,
      rejected: { ...rejected },
      steps: { ...steps },
      lastHeartbeatMs: state.liveness(now()).lastHeartbeatMs,
      live: state.sizes(),
    }),
    live: () => state.live(now()),
    report,
    info: (obj, msg) => log('info', obj, msg),
  };
}
