import { z } from 'zod';
import { amount, boundedId, count, epochMs, scopeSchema } from './common.ts';

/** Wire version of control commands (SPEC §2). */
export const CONTROL_SCHEMA_VERSION = 'runwarden.control/v1';

export const CONTROL_ACTIONS = ['abort', 'throttle', 'warn', 'resume', 'kill_switch', 'heartbeat'] as const;

/** Why a command was issued: enough for a person to act without opening a trace. */
export const reasonSchema = z.object({
  /** Detector name (`step-cap`, `tool-loop`, …) or `operator` / `heartbeat`. */
  detector: boundedId(64),
  rule: boundedId(128),
  observed: z.number(),
  threshold: z.number(),
  baseline: z.number().optional(),
  finding_id: z.string().max(128),
  /** Free text from an operator (kill switch, resume). */
  note: z.string().max(1024).optional(),
});

export const throttleSchema = z.object({
  max_concurrent_runs: count().optional(),
  max_llm_calls_per_minute: count().optional(),
  delay_ms: amount().optional(),
});

/** The command without its signature: what the HMAC covers. */
export const unsignedControlCommandSchema = z.object({
  schema: z.literal(CONTROL_SCHEMA_VERSION),
  /** Deterministic for a finding and action: a replay re-emits the same id. */
  command_id: boundedId(128),
  /** Event time (epoch ms) of the event that triggered it. */
  issued_at: epochMs(),
  action: z.enum(CONTROL_ACTIONS),
  scope: scopeSchema,
  reason: reasonSchema,
  expires_at: epochMs().optional(),
  throttle: throttleSchema.optional(),
  /** Which shared secret signed it, so keys can rotate. */
  key_id: boundedId(64).optional(),
});

export const controlCommandSchema = unsignedControlCommandSchema.extend({
  /** Hex HMAC-SHA256 over the canonical JSON of the command without `signature`. */
  signature: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex HMAC-SHA256'),
});

export type ControlAction = (typeof CONTROL_ACTIONS)[number];
export type ControlReason = z.infer<typeof reasonSchema>;
export type Throttle = z.infer<typeof throttleSchema>;
export type UnsignedControlCommand = z.infer<typeof unsignedControlCommandSchema>;
export type ControlCommand = z.infer<typeof controlCommandSchema>;
