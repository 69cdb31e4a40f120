import type { ControlCommand } from '../contracts/control.ts';
import { verifyCommand, type KeyRing, type VerifyFailure } from '../control/sign.ts';
import type { GuardState } from './guard-state.ts';

/** Why the guard refused a control message. */
export type RejectReason = VerifyFailure | 'replayed';

export const REJECT_REASONS: readonly RejectReason[] = ['malformed', 'unsigned', 'bad_signature', 'unknown_key', 'expired', 'replayed'];

/** What became of one control message. */
export type HandleResult =
  | { kind: 'applied'; command: ControlCommand }
  | { kind: 'rejected'; reason: RejectReason; commandId?: string };

/** A control command is a few hundred bytes; anything past this is not one (bytes). */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;

/** The command_id of a message that failed verification, when it has a usable one (for logs). */
function idOf(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const id = (json as { command_id?: unknown }).command_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/**
 * One control message through the guard: parse, verify (unsigned → malformed → unknown key →
 * bad signature → expired, see verifyCommand), refuse a replay, apply to `state`. Pure apart from
 * mutating `state`; never throws. The HMAC is checked over the message as received, so fields a
 * newer warden adds stay covered.
 */
export function handleControlMessage(bytes: Uint8Array | string | null, ring: KeyRing, state: GuardState, nowMs: number): HandleResult {
  if (bytes === null || bytes.length === 0 || bytes.length > MAX_CONTROL_MESSAGE_BYTES) return { kind: 'rejected', reason: 'malformed' };
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return { kind: 'rejected', reason: 'malformed' };
  }
  const commandId = idOf(json);
  const withId = commandId === undefined ? {} : { commandId };
  let verdict: ReturnType<typeof verifyCommand>;
  try {
    verdict = verifyCommand(json, ring, nowMs);
  } catch {
    return { kind: 'rejected', reason: 'malformed', ...withId };
  }
  if (!verdict.ok) return { kind: 'rejected', reason: verdict.reason, ...withId };
  if (state.apply(verdict.command, nowMs) === 'replayed') return { kind: 'rejected', reason: 'replayed', commandId: verdict.command.command_id };
  return { kind: 'applied', command: verdict.command };
}
