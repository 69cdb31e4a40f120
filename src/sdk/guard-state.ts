import type { ControlCommand } from '../contracts/control.ts';
import { scopeMatches, type StepContext } from './scope-match.ts';

/** What the guard decides for one step. */
export type StepDecision =
  | { kind: 'allow' }
  | { kind: 'abort'; command: ControlCommand }
  | { kind: 'throttle'; delayMs: number; command: ControlCommand };

export interface GuardState {
  /** Applies a verified command; false when its id was seen before (a replay). */
  apply(command: ControlCommand, nowMs: number): boolean;
  /** Decides a step at `nowMs`; records the step for per-minute rate limits when allowed. */
  decide(ctx: StepContext, nowMs: number): StepDecision;
  /** Live commands (not expired, not lifted), for inspection. */
  live(nowMs: number): ControlCommand[];
  lastHeartbeatMs(): number | undefined;
}

const scopeKey = (c: ControlCommand) => `${c.scope.kind}\u0000${c.scope.id}`;

/**
 * The guard's live set: aborts, kill switches and throttles with their expiry, plus the ids of
 * every command applied (bounded) so that a replayed command is refused. Pure: time comes in as
 * an argument, so it is tested without Kafka or a clock.
 */
export function createGuardState(options: { maxRememberedIds?: number } = {}): GuardState {
  const maxIds = options.maxRememberedIds ?? 100_000;
  const seen = new Set<string>();
  const aborts = new Map<string, ControlCommand>(); // by scope
  const kills = new Map<string, ControlCommand>();
  const throttles = new Map<string, ControlCommand>();
  /** Step times (ms) per throttle scope, for max_llm_calls_per_minute. */
  const steps = new Map<string, number[]>();
  let heartbeat: number | undefined;

  const alive = (c: ControlCommand, now: number) => c.expires_at === undefined || c.expires_at > now;

  function remember(id: string): boolean {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > maxIds) seen.delete(seen.values().next().value as string);
    return true;
  }

  function apply(command: ControlCommand, nowMs: number): boolean {
    if (!remember(command.command_id)) return false;
    const key = scopeKey(command);
    switch (command.action) {
      case 'abort':
        aborts.set(key, command);
        // Aborted runs without expiry must not grow the set forever: drop the oldest.
        if (aborts.size > maxIds) aborts.delete(aborts.keys().next().value as string);
        break;
      case 'kill_switch':
        kills.set(key, command);
        break;
      case 'throttle':
        throttles.set(key, command);
        break;
      case 'resume':
        kills.delete(key);
        throttles.delete(key);
        steps.delete(key);
        break;
      case 'heartbeat':
        // The warden's own send time, not our receipt time: old heartbeats read at start-up
        // must not make a dead warden look alive.
        heartbeat = Math.max(heartbeat ?? 0, Math.min(nowMs, command.issued_at));
        break;
      case 'warn':
        break;
    }
    return true;
  }

  function firstMatch(map: Map<string, ControlCommand>, ctx: StepContext, now: number): ControlCommand | undefined {
    for (const [key, c] of map) {
      if (!alive(c, now)) {
        map.delete(key);
        continue;
      }
      if (scopeMatches(c.scope, ctx)) return c;
    }
    return undefined;
  }

  function decide(ctx: StepContext, nowMs: number): StepDecision {
    const stop = firstMatch(kills, ctx, nowMs) ?? firstMatch(aborts, ctx, nowMs);
    if (stop) return { kind: 'abort', command: stop };
    let worst: StepDecision = { kind: 'allow' };
    for (const [key, c] of throttles) {
      if (!alive(c, nowMs)) {
        throttles.delete(key);
        steps.delete(key);
        continue;
      }
      if (!scopeMatches(c.scope, ctx)) continue;
      let delay = c.throttle?.delay_ms ?? 0;
      const perMinute = c.throttle?.max_llm_calls_per_minute;
      if (perMinute !== undefined) {
        const times = (steps.get(key) ?? []).filter((t) => t > nowMs - 60_000);
        steps.set(key, times);
        if (times.length >= perMinute) {
          // Wait until the oldest step in the window leaves it (perMinute 0: a full minute).
          delay = Math.max(delay, perMinute === 0 ? 60_000 : (times[times.length - perMinute] ?? nowMs) + 60_000 - nowMs);
        }
        times.push(nowMs + delay);
      }
      if (delay > 0 && (worst.kind === 'allow' || delay > worst.delayMs)) worst = { kind: 'throttle', delayMs: delay, command: c };
    }
    return worst;
  }

  function live(nowMs: number): ControlCommand[] {
    return [...kills.values(), ...aborts.values(), ...throttles.values()].filter((c) => alive(c, nowMs));
  }

  return { apply, decide, live, lastHeartbeatMs: () => heartbeat };
}
