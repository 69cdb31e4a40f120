import type { Scope } from '../../../src/contracts/common.ts';
import type { ControlAction, ControlCommand, Throttle } from '../../../src/contracts/control.ts';

/** Epoch ms every guard test starts at. */
export const T0 = 1_768_478_400_000;

let seq = 0;

/**
 * A command as the guard state sees it after verification (the state never checks signatures,
 * so the signature is a placeholder). Ids are unique unless given.
 */
export function cmd(
  action: ControlAction,
  scope: Scope,
  extra: { id?: string; issuedAt?: number; expiresAt?: number; throttle?: Throttle; detector?: string; rule?: string } = {},
): ControlCommand {
  const c: ControlCommand = {
    schema: 'runwarden.control/v1',
    command_id: extra.id ?? `c-${++seq}`,
    issued_at: extra.issuedAt ?? T0,
    action,
    scope,
    reason: { detector: extra.detector ?? 'tool-loop', rule: extra.rule ?? 'identical_consecutive', observed: 6, threshold: 5, finding_id: `f-${seq}` },
    signature: '0'.repeat(64),
  };
  if (extra.expiresAt !== undefined) c.expires_at = extra.expiresAt;
  if (extra.throttle !== undefined) c.throttle = extra.throttle;
  return c;
}
