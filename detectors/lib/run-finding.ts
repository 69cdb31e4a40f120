import { FINDING_SCHEMA_VERSION, type DetectorName, type Finding, type Severity } from '../../src/contracts/finding.ts';
import type { SpanEvent } from '../../src/contracts/span.ts';
import { findingId } from './finding-id.ts';

export interface RunFindingInput {
  detector: DetectorName;
  rule: string;
  severity: Severity;
  /** The event that triggered the finding: gives ts, run and the run's owners. */
  event: SpanEvent;
  observed: number;
  threshold: number;
  details: Record<string, unknown>;
}

/**
 * A run-scoped finding. Each per-run rule fires at most once per run, so detector|rule|run_id is
 * unique and makes a stable `finding_id`. `ts` is the triggering event's time (never a clock).
 * `agent_id`, `tenant_id` and `user_id` go into `details` so a person (and the rollups) can see
 * whose run it was without opening the trace.
 */
export function runFinding(input: RunFindingInput): Finding {
  const { event } = input;
  return {
    schema: FINDING_SCHEMA_VERSION,
    finding_id: findingId(input.detector, input.rule, event.run_id),
    ts: event.ts,
    detector: input.detector,
    rule: input.rule,
    severity: input.severity,
    scope: { kind: 'run', id: event.run_id },
    observed: input.observed,
    threshold: input.threshold,
    details: { agent_id: event.agent_id, tenant_id: event.tenant_id, user_id: event.user_id, ...input.details },
  };
}
