import type { ControlCommand } from '../contracts/control.ts';
import { scopeMatches, type StepContext } from './scope-match.ts';
import { createScopeTable, scopeKey } from './scope-table.ts';

/** What the guard decides for one step. */
export type StepDecision =
  | { kind: 'allow' }
  /** An abort or kill switch covers the step: it must not run. */
  | { kind: 'abort'; command: ControlCommand }
  /**
   * Admitted after a wait: the step's slot is reserved at now + delayMs (delay_ms and the
   * per-minute window). `overrun`: the throttle asked for more than maxDelayMs, which was cut.
   */
  | { kind: 'delay'; delayMs: number; command: ControlCommand; overrun: boolean }
  /** Not admitted: `max_concurrent_runs` of the scope is full. Decide again after retryMs. */
  | { kind: 'wait'; retryMs: number; command: ControlCommand };

/** The warden's liveness as the heartbeats tell it. */
export interface Liveness {
  alive: boolean;
  /** When the freshest heartbeat was sent, on our clock (see `apply`); undefined: none seen. */
  lastHeartbeatMs: number | undefined;
}

export interface GuardStateOptions {
  /** Command ids kept for replay detection. Default 100,000. */
  maxRememberedIds?: number;
  /** Aborts, kill switches and throttles kept, each. Default 100,000. */
  maxLiveCommands?: number;
  /** Runs tracked for max_concurrent_runs. Default 10,000. */
  maxActiveRuns?: number;
  /** A run without a step for this long (ms) stops counting as running. Default 300,000. */
  runIdleMs?: number;
  /** A heartbeat keeps the warden alive for this long (ms). Default 15,000. */
  heartbeatTimeoutMs?: number;
  /** How far (ms) the warden's clock may lag ours before its heartbeats look stale. Default 5,000. */
  maxClockSkewMs?: number;
  /** Longest delay (ms) one decision asks for; longer throttle waits are cut (overrun). Default 60,000. */
  maxDelayMs?: number;
}

export interface GuardStateSizes {
  rememberedIds: number;
  aborts: number;
  killSwitches: number;
  throttles: number;
  activeRuns: number;
  /** Entries dropped to keep memory bounded (ids, live commands, tracked runs). */
  evicted: number;
}

export interface GuardState {
  /** Applies a verified command; 'replayed' (and no effect) when its id was applied before. */
  apply(command: ControlCommand, nowMs: number): 'applied' | 'replayed';
  /**
   * Decides a step: abort, allow, delay or wait. An admitted step (allow/delay) is recorded
   * for the rate window and as a running run. `force` admits past a full max_concurrent_runs.
   */
  decide(ctx: StepContext, nowMs: number, options?: { force?: boolean }): StepDecision;
  /** The abort or kill switch that stops this step, if any (no bookkeeping). */
  stopFor(ctx: StepContext, nowMs: number): ControlCommand | undefined;
  /** The run ended: it no longer counts against max_concurrent_runs. */
  endRun(runId: string): void;
  liveness(nowMs: number): Liveness;
  /** Live commands (not expired, not lifted): kill switches, aborts, throttles. */
  live(nowMs: number): ControlCommand[];
  sizes(): GuardStateSizes;
}

const MINUTE_MS = 60_000;
/** setTimeout's ceiling: a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The guard's live set (SPEC §2), pure: time comes in as an argument, so replay, tests and the
 * Kafka guard run the same code. What it enforces:
 * - `abort` and `kill_switch` on any scope (run, user, tenant, agent, cohort, global) stop every
 *   step they cover until `expires_at`; `resume` lifts the kill switch and throttle of exactly its
 *   scope (not an abort: an aborted run stays aborted).
 * - `throttle`: `delay_ms` delays every step in the scope; `max_llm_calls_per_minute` admits at
 *   most that many LLM steps in any 60 s window, queueing the rest FIFO; `max_concurrent_runs`
 *   holds a new run back while that many runs of the scope are running here. All three count
 *   what this process sees: N processes of an agent may make N times the limit.
 * - `heartbeat`: liveness (see `apply`); `warn`: no effect on steps.
 * - Replays: a command id already applied is refused. Ids are forgotten after their command
 *   expires (a replay then fails as expired) or, past maxRememberedIds, oldest first.
 */
export function createGuardState(options: GuardStateOptions = {}): GuardState {
  const maxIds = options.maxRememberedIds ?? 100_000;
  const maxLive = options.maxLiveCommands ?? 100_000;
  const maxRuns = options.maxActiveRuns ?? 10_000;
  const runIdleMs = options.runIdleMs ?? 300_000;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 15_000;
  const maxSkewMs = options.maxClockSkewMs ?? 5_000;
  const maxDelayMs = Math.min(Math.max(0, options.maxDelayMs ?? 60_000), MAX_TIMER_MS);

  /** Applied command id → when it can be forgotten (its expires_at, or never). */
  const seen = new Map<string, number>();
  const aborts = createScopeTable(maxLive);
  const kills = createScopeTable(maxLive);
  const throttles = createScopeTable(maxLive);
  /** Per throttle scope: admitted LLM-step times (ms, ascending, reservations may be future). */
  const windows = new Map<string, number[]>();
  /** Running runs, least recently stepped first. */
  const runs = new Map<string, { ctx: StepContext; lastMs: number }>();
  let evicted = 0;
  let lastHeartbeatMs: number | undefined;
  let liveUntilMs = -Infinity;

  function remember(command: ControlCommand, nowMs: number): boolean {
    if (seen.has(command.command_id)) return false;
    seen.set(command.command_id, command.expires_at ?? Infinity);
    if (seen.size > maxIds) {
      for (const [id, forgetAt] of seen) if (forgetAt <= nowMs) seen.delete(id);
      const target = Math.floor(maxIds * 0.9);
      for (const id of seen.keys()) {
        if (seen.size <= target) break;
        seen.delete(id);
        evicted++;
      }
    }
    return true;
  }

  /**
   * A heartbeat counts from when the warden sent it (`issued_at`), never from when we read it:
   * the last beats of a dead warden read at start-up must not make it look alive. The two
   * clocks differ, so `issued_at` is trusted only within maxClockSkewMs of our clock:
   * freshAt = min(now, issued_at + maxClockSkewMs). A warden whose clock runs ahead cannot
   * extend its liveness past our receipt time; one that runs behind by up to maxClockSkewMs
   * still counts as live; one further behind looks stale (fails closed: fix its clock). So a
   * dead warden is noticed after at most heartbeatTimeoutMs + maxClockSkewMs. A heartbeat's own
   * `expires_at` (its ttl) shortens the liveness it grants.
   */
  function heartbeat(command: ControlCommand, nowMs: number): void {
    const freshAt = Math.min(nowMs, command.issued_at + maxSkewMs);
    lastHeartbeatMs = Math.max(lastHeartbeatMs ?? -Infinity, Math.min(nowMs, command.issued_at));
    const until = Math.min(freshAt + heartbeatTimeoutMs, (command.expires_at ?? Infinity) - 1);
    liveUntilMs = Math.max(liveUntilMs, until);
  }

  function apply(command: ControlCommand, nowMs: number): 'applied' | 'replayed' {
    if (!remember(command, nowMs)) return 'replayed';
    switch (command.action) {
      case 'abort':
        evicted += aborts.set(command, nowMs);
        break;
      case 'kill_switch':
        evicted += kills.set(command, nowMs);
        break;
      case 'throttle':
        evicted += throttles.set(command, nowMs);
        sweepWindows(nowMs);
        break;
      case 'resume':
        kills.delete(command.scope);
        throttles.delete(command.scope);
        windows.delete(scopeKey(command.scope));
        break;
      case 'heartbeat':
        heartbeat(command, nowMs);
        break;
      case 'warn':
        break;
    }
    return 'applied';
  }

  /** Drops rate windows whose throttle is gone (expired or evicted). */
  function sweepWindows(nowMs: number): void {
    if (windows.size <= throttles.size + 16) return;
    const live = new Set(throttles.values(nowMs).map((c) => scopeKey(c.scope)));
    for (const key of windows.keys()) if (!live.has(key)) windows.delete(key);
  }

  function stopFor(ctx: StepContext, nowMs: number): ControlCommand | undefined {
    return kills.matching(ctx, nowMs)[0] ?? aborts.matching(ctx, nowMs)[0];
  }

  function expireRuns(nowMs: number): void {
    for (const [id, r] of runs) {
      if (r.lastMs + runIdleMs > nowMs && runs.size <= maxRuns) break;
      runs.delete(id);
      if (r.lastMs + runIdleMs > nowMs) evicted++;
    }
  }

  function touchRun(ctx: StepContext, nowMs: number): void {
    runs.delete(ctx.runId);
    runs.set(ctx.runId, { ctx: { ...ctx }, lastMs: nowMs });
    expireRuns(nowMs);
  }

  /** The concurrency throttle that holds a new run back, with when to try again. */
  function concurrencyBlock(ctx: StepContext, matching: ControlCommand[], nowMs: number): StepDecision | undefined {
    if (runs.has(ctx.runId)) return undefined; // already running: admitted before
    for (const c of matching) {
      const cap = c.throttle?.max_concurrent_runs;
      if (cap === undefined) continue;
      let running = 0;
      let firstIdleAt = Infinity;
      for (const r of runs.values()) {
        if (!scopeMatches(c.scope, r.ctx)) continue;
        running++;
        firstIdleAt = Math.min(firstIdleAt, r.lastMs + runIdleMs);
      }
      if (running >= cap) return { kind: 'wait', retryMs: Math.max(1, Math.min(firstIdleAt - nowMs, maxDelayMs)), command: c };
    }
    return undefined;
  }

  function decide(ctx: StepContext, nowMs: number, opts: { force?: boolean } = {}): StepDecision {
    const stop = stopFor(ctx, nowMs);
    if (stop) return { kind: 'abort', command: stop };
    expireRuns(nowMs);
    const matching = throttles.matching(ctx, nowMs);
    if (matching.length === 0) {
      touchRun(ctx, nowMs);
      return { kind: 'allow' };
    }
    if (opts.force !== true) {
      const block = concurrencyBlock(ctx, matching, nowMs);
      if (block) return block;
    }
    const countsAsLlm = ctx.step === undefined || ctx.step === 'llm_call';
    let earliest = nowMs;
    let cause: ControlCommand | undefined;
    const later = (at: number, c: ControlCommand) => {
      if (at > earliest) [earliest, cause] = [at, c];
    };
    for (const c of matching) {
      const delay = c.throttle?.delay_ms ?? 0;
      later(nowMs + delay, c);
      const perMinute = c.throttle?.max_llm_calls_per_minute;
      if (perMinute === undefined || !countsAsLlm) continue;
      const times = windowOf(c, nowMs);
      // FIFO: never ahead of a step already queued; at most perMinute in any 60 s window.
      later(times.at(-1) ?? -Infinity, c);
      if (perMinute === 0) later(Infinity, c);
      else if (times.length >= perMinute) later((times[times.length - perMinute] as number) + MINUTE_MS, c);
    }
    const wanted = earliest - nowMs;
    const delayMs = Math.min(wanted, maxDelayMs);
    const at = nowMs + delayMs;
    if (countsAsLlm) {
      for (const c of matching) {
        const perMinute = c.throttle?.max_llm_calls_per_minute;
        if (perMinute === undefined) continue;
        const times = windowOf(c, nowMs);
        times.push(at);
        if (times.length > 1 && (times.at(-2) as number) > at) times.sort((a, b) => a - b);
        if (times.length > perMinute) times.splice(0, times.length - perMinute);
      }
    }
    touchRun(ctx, nowMs);
    if (delayMs <= 0 || cause === undefined) return { kind: 'allow' };
    return { kind: 'delay', delayMs, command: cause, overrun: wanted > delayMs };
  }

  /** The step times of a throttle's scope still inside the last minute. */
  function windowOf(c: ControlCommand, nowMs: number): number[] {
    const key = scopeKey(c.scope);
    const times = windows.get(key) ?? [];
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= nowMs - MINUTE_MS) drop++;
    if (drop > 0) times.splice(0, drop);
    windows.set(key, times);
    return times;
  }

  return {
    apply,
    decide,
    stopFor,
    endRun: (runId) => void runs.delete(runId),
    liveness: (nowMs) => ({ alive: nowMs <= liveUntilMs, lastHeartbeatMs }),
    live: (nowMs) => [...kills.values(nowMs), ...aborts.values(nowMs), ...throttles.values(nowMs)],
    sizes: () => ({
      rememberedIds: seen.size,
      aborts: aborts.size,
      killSwitches: kills.size,
      throttles: throttles.size,
      activeRuns: runs.size,
      evicted,
    }),
  };
}
