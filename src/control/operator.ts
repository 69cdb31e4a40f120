import { CONTROL_SCHEMA_VERSION, type UnsignedControlCommand } from '../contracts/control.ts';
import type { Scope } from '../contracts/common.ts';
import { commandId } from './command-id.ts';

/** Scopes an operator can kill-switch: a person, a customer, an agent, or everything (`id: "*"`). */
export type KillSwitchScope = { kind: 'user' | 'tenant' | 'agent'; id: string } | { kind: 'global'; id?: '*' };

export interface KillSwitchOptions {
  scope: KillSwitchScope;
  /** When it is issued (epoch ms): the CLI's clock, or an event time in replay. */
  issuedAt: number;
  /** Lift automatically after this long (ms); absent → until a `resume`. */
  ttlMs?: number;
  /** Why, and who: lands in `reason.note` and the audit trail. */
  note?: string;
}

export interface ResumeOptions {
  /** The scope whose kill switch or throttle is lifted. */
  scope: Scope;
  issuedAt: number;
  note?: string;
}

export interface HeartbeatOptions {
  issuedAt: number;
  /** Monotonic per warden: a guard can tell a stale heartbeat from a fresh one. */
  sequence: number;
  /** Which warden process beats (several may run). */
  wardenId?: string;
  /** How long this beat counts as liveness (ms); absent → the guard's own timeout alone. */
  ttlMs?: number;
}

const scopeOf = (s: KillSwitchScope): Scope => (s.kind === 'global' ? { kind: 'global', id: '*' } : { kind: s.kind, id: s.id });

/**
 * A kill switch: the guard blocks every new step in the scope until it expires or a `resume`.
 * `command_id` is derived from (action, scope, issuedAt), so re-sending the same invocation is
 * idempotent; `reason.finding_id` is that id too (an operator command has no detector finding).
 */
export function killSwitchCommand(o: KillSwitchOptions): UnsignedControlCommand {
  const scope = scopeOf(o.scope);
  const id = commandId('kill_switch', scope.kind, scope.id, o.issuedAt);
  const command: UnsignedControlCommand = {
    schema: CONTROL_SCHEMA_VERSION,
    command_id: id,
    issued_at: o.issuedAt,
    action: 'kill_switch',
    scope,
    // observed 1 ≥ threshold 1: the switch is on.
    reason: { detector: 'kill-switch', rule: 'operator', observed: 1, threshold: 1, finding_id: id, ...note(o.note) },
  };
  if (o.ttlMs !== undefined) command.expires_at = o.issuedAt + o.ttlMs;
  return command;
}

/** Lifts a kill switch or throttle on a scope. */
export function resumeCommand(o: ResumeOptions): UnsignedControlCommand {
  const scope = o.scope.kind === 'global' ? { kind: 'global' as const, id: '*' } : o.scope;
  const id = commandId('resume', scope.kind, scope.id, o.issuedAt);
  return {
    schema: CONTROL_SCHEMA_VERSION,
    command_id: id,
    issued_at: o.issuedAt,
    action: 'resume',
    scope,
    reason: { detector: 'kill-switch', rule: 'resume', observed: 0, threshold: 1, finding_id: id, ...note(o.note) },
  };
}

/**
 * Liveness of the warden; guards fail closed (by default) when beats stop. `command_id` is
 * derived from (warden, sequence, issuedAt): a warden restarted under the same id starts its
 * sequence again, and its beats must not look like replays of the previous process's.
 */
export function heartbeatCommand(o: HeartbeatOptions): UnsignedControlCommand {
  const warden = o.wardenId ?? 'warden';
  const command: UnsignedControlCommand = {
    schema: CONTROL_SCHEMA_VERSION,
    command_id: commandId('heartbeat', warden, o.sequence, o.issuedAt),
    issued_at: o.issuedAt,
    action: 'heartbeat',
    scope: { kind: 'global', id: '*' },
    reason: { detector: 'heartbeat', rule: 'liveness', observed: o.sequence, threshold: 0, finding_id: '', note: warden },
  };
  if (o.ttlMs !== undefined) command.expires_at = o.issuedAt + o.ttlMs;
  return command;
}

const note = (text: string | undefined): { note?: string } => (text === undefined ? {} : { note: text.slice(0, 1024) });
