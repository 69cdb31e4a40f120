import { judgeLineage } from '../../detectors/judge-drift.ts';
import type { Policy } from '../policy/policy.ts';
import type { AgentPolicy } from '../policy/policy-schema.ts';
import { resolvePolicy } from '../policy/resolve-policy.ts';
import { cohortKey, type CohortDims } from '../windows/cohort-key.ts';
import { partialStateKey, type CohortPartial } from '../windows/cohort-partial.ts';

/** The policy of a cohort: its `agent_id`'s, or the defaults for a cohort without that dimension (e.g. per user). */
export function cohortPolicy(policy: Policy, cohort: CohortDims): AgentPolicy {
  const agentId = cohort['agent_id'];
  return agentId === undefined ? policy.defaults : resolvePolicy(policy, agentId);
}

/**
 * The key of a partial on the partials topic, which is also the key of its state at the cohort
 * stage, so one consumer holds all a state needs: `view|cohort id`, except judge partials, keyed by
 * their lineage (the cohort without the agent's `judge_drift.version_dims`) so that one consumer
 * sees every version of a lineage and can compare a new version with the one it replaced.
 */
export function partialRoutingKey(partial: Pick<CohortPartial, 'view' | 'cohort'>, policy: Policy): string {
  if (partial.view !== 'judge') return partialStateKey(partial);
  return judgeStateKey(judgeLineage(partial.cohort, cohortPolicy(policy, partial.cohort).judge_drift));
}

/** State key of a judge lineage. */
export const judgeStateKey = (lineage: CohortDims): string => `judge|${cohortKey(lineage)}`;
