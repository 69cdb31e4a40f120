import type { ControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';
import { commandForFinding } from '../control/commands.ts';
import { signCommand, type KeyRing } from '../control/sign.ts';
import type { AgentPolicy } from '../policy/policy-schema.ts';

/** One finding and the signed command it calls for (none for a finding-only one). */
export interface Emission {
  finding: Finding;
  command?: ControlCommand;
}

/** A finding with the signed command its policy calls for, if any (deterministic: same finding, same bytes). */
export function emissionOf(finding: Finding, policy: Pick<AgentPolicy, 'commands'>, keyRing: KeyRing): Emission {
  const unsigned = commandForFinding(finding, policy);
  return unsigned ? { finding, command: signCommand(unsigned, keyRing) } : { finding };
}
