import type { Policy } from './policy.ts';
import type { AgentPolicy } from './policy-schema.ts';

/** The policy governing one agent's runs: its override merged over the defaults (done at load). */
export function resolvePolicy(policy: Policy, agentId: string): AgentPolicy {
  return policy.agents.get(agentId) ?? policy.defaults;
}
