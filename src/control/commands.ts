import { CONTROL_SCHEMA_VERSION, throttleSchema, type ControlAction, type ControlReason, type UnsignedControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';
import type { AgentPolicy } from '../policy/policy-schema.ts';
import { commandId } from './command-id.ts';

type DetectorAction = Extract<ControlAction, 'abort' | 'throttle' | 'warn'>;

/**
 * The action a finding calls for:
 * - `details.action` (`abort` | `throttle` | `warn`) when a detector states it (cost-spike
 *   says `throttle` and puts its limits in `details.throttle`); `none` for a finding only
 *   (judge-drift without a canary throttle: operators decide);
 * - otherwise `critical` → `abort` on a run scope; on a wider scope → `warn`, because stopping a
 *   user, tenant or agent outright is a kill switch, which only an operator flips;
 * - `warning` → `warn`; `info` → no command (a finding only).
 */
export function actionForFinding(finding: Finding): DetectorAction | null {
  const stated = finding.details?.['action'];
  if (stated === 'abort' || stated === 'throttle' || stated === 'warn') return stated;
  if (stated === 'none') return null;
  switch (finding.severity) {
    case 'critical':
      return finding.scope.kind === 'run' ? 'abort' : 'warn';
    case 'warning':
      return 'warn';
    case 'info':
      return null;
  }
}

/**
 * The unsigned control command for a finding, or null when it calls for none. `issued_at` is
 * the finding's event time, `expires_at` = issued_at + the policy ttl of the action, and
 * `command_id` is derived from (finding_id, action) so a replay re-emits the same id.
 */
export function commandForFinding(finding: Finding, policy: Pick<AgentPolicy, 'commands'>): UnsignedControlCommand | null {
  const action = actionForFinding(finding);
  if (action === null) return null;
  const reason: ControlReason = {
    detector: finding.detector,
    rule: finding.rule,
    observed: finding.observed,
    threshold: finding.threshold,
    finding_id: finding.finding_id,
  };
  if (finding.baseline !== undefined) reason.baseline = finding.baseline;
  const command: UnsignedControlCommand = {
    schema: CONTROL_SCHEMA_VERSION,
    command_id: commandId(finding.finding_id, action),
    issued_at: finding.ts,
    action,
    scope: finding.scope,
    reason,
    expires_at: finding.ts + policy.commands.ttl[action],
  };
  if (action === 'throttle') {
    const throttle = throttleSchema.safeParse(finding.details?.['throttle']);
    if (throttle.success) command.throttle = throttle.data;
  }
  return command;
}
