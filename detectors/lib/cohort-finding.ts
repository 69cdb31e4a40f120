import type { Scope } from '../../src/contracts/common.ts';
import type { Throttle } from '../../src/contracts/control.ts';
import { FINDING_SCHEMA_VERSION, type DetectorName, type Finding, type Severity } from '../../src/contracts/finding.ts';
import { cohortKey, type CohortDims } from '../../src/windows/cohort-key.ts';
import { findingId } from './finding-id.ts';

export interface CohortFindingInput {
  detector: DetectorName;
  rule: string;
  severity: Severity;
  /** Event time (ms) of the latest event behind the finding. */
  ts: number;
  cohort: CohortDims;
  /**
   * What makes this finding unique within (detector, rule, cohort): the episode's start minute,
   * or a run id for a per-run rule evaluated on a cohort. Part of `finding_id`.
   */
  episode: string | number;
  /** Default: the cohort itself, `{kind: 'cohort', id: cohortKey(cohort)}`. */
  scope?: Scope;
  observed: number;
  threshold: number;
  baseline?: number;
  details: Record<string, unknown>;
  /** Set when the finding calls for a throttle: becomes `details.action` + `details.throttle`. */
  throttle?: Throttle;
  /** Otherwise the action to state in `details.action`: `warn`, or `none` for a finding with no command. */
  action?: 'warn' | 'none';
}

/**
 * A cohort-scoped finding. `finding_id` = hash(detector, rule, cohort id, episode), so a replay or
 * a re-delivered partial re-emits the same id and one episode is one finding. A throttle is
 * stated in `details.action` and `details.throttle`, which src/control/commands.ts turns into a
 * `throttle` command on the finding's scope.
 */
export function cohortFinding(input: CohortFindingInput): Finding {
  const id = cohortKey(input.cohort);
  const details: Record<string, unknown> = { ...input.details };
  if (input.throttle) {
    details['action'] = 'throttle';
    details['throttle'] = input.throttle;
  } else if (input.action) details['action'] = input.action;
  const finding: Finding = {
    schema: FINDING_SCHEMA_VERSION,
    finding_id: findingId(input.detector, input.rule, id, String(input.episode)),
    ts: input.ts,
    detector: input.detector,
    rule: input.rule,
    severity: input.severity,
    scope: input.scope ?? { kind: 'cohort', id },
    cohort: { ...input.cohort },
    observed: input.observed,
    threshold: input.threshold,
    details,
  };
  if (input.baseline !== undefined) finding.baseline = input.baseline;
  return finding;
}
