import { FINDING_SCHEMA_VERSION, type Finding } from '../../../src/contracts/finding.ts';

/** A tool-loop abort finding; override any field. */
export function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    schema: FINDING_SCHEMA_VERSION,
    finding_id: 'f-1',
    ts: Date.UTC(2026, 0, 2, 3, 4, 5),
    detector: 'tool-loop',
    rule: 'identical_consecutive',
    severity: 'critical',
    scope: { kind: 'run', id: 'run-42' },
    observed: 6,
    threshold: 5,
    ...overrides,
  };
}
