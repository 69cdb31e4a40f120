import { z } from 'zod';
import { boundedId, epochMs, scopeSchema } from './common.ts';

/** Wire version of findings (SPEC §3). */
export const FINDING_SCHEMA_VERSION = 'runwarden.finding/v1';

export const DETECTORS = ['step-cap', 'tool-loop', 'cost-spike', 'judge-drift', 'budget', 'kill-switch'] as const;
export const SEVERITIES = ['info', 'warning', 'critical'] as const;

/** What a detector saw. */
export const findingSchema = z.object({
  schema: z.literal(FINDING_SCHEMA_VERSION),
  finding_id: boundedId(128),
  /** Event time (epoch ms) of the event that triggered it. */
  ts: epochMs(),
  detector: z.enum(DETECTORS),
  rule: boundedId(128),
  severity: z.enum(SEVERITIES),
  scope: scopeSchema,
  /** For a cohort finding: each cohort dimension → its value. */
  cohort: z.record(z.string(), z.string()).optional(),
  observed: z.number(),
  threshold: z.number(),
  baseline: z.number().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export type DetectorName = (typeof DETECTORS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type Finding = z.infer<typeof findingSchema>;
