import { z } from 'zod';
import { amount, boundedId, count, eventTime } from './common.ts';

/** Wire version of span events (SPEC §1). Unknown versions go to the DLQ. */
export const SPAN_SCHEMA_VERSION = 'runwarden.span/v1';

export const SPAN_KINDS = ['run_start', 'llm_call', 'tool_call', 'judge_score', 'run_end', 'side_effect'] as const;
export const RUN_STATUSES = ['ok', 'error', 'aborted', 'refused', 'timeout'] as const;
export const TOOL_STATUSES = ['ok', 'error', 'timeout', 'blocked'] as const;

/** Cohort attributes: string → string ≤ 256 (model_version, prompt_hash, plan_tier, region, …). */
export const attrsSchema = z
  .record(z.string().min(1).max(128), z.string().max(256, 'attribute values must be at most 256 characters'))
  .refine((a) => Object.keys(a).length <= 64, 'at most 64 attributes');

/** Per-run limits, `run_start` only: may tighten policy caps, never loosen them. */
export const limitsSchema = z.object({
  max_llm_calls: count().optional(),
  max_tool_calls: count().optional(),
  max_tokens: count().optional(),
  max_cost_usd: amount().optional(),
});

export const llmSchema = z.object({
  model: boundedId(128),
  input_tokens: count(),
  output_tokens: count(),
  cached_tokens: count().optional(),
  /** usd; priced from the price table when absent. */
  cost_usd: amount().optional(),
  latency_ms: amount().optional(),
});

export const toolSchema = z.object({
  name: boundedId(128),
  /** Hash of the arguments; raw arguments are never required. */
  args_hash: z.string().max(128).optional(),
  status: z.enum(TOOL_STATUSES),
  duration_ms: amount().optional(),
  error_type: z.string().max(128).optional(),
  sensitive: z.boolean().optional(),
});

export const judgeSchema = z.object({
  score: z.number().min(0, 'score must be in 0..1').max(1, 'score must be in 0..1'),
  rubric: z.string().max(128).optional(),
  judge_model: z.string().max(128).optional(),
});

const base = {
  schema: z.literal(SPAN_SCHEMA_VERSION),
  event_id: boundedId(64),
  ts: eventTime(),
  run_id: boundedId(128),
  span_id: boundedId(64),
  parent_span_id: boundedId(64).optional(),
  agent_id: boundedId(128),
  tenant_id: boundedId(128),
  user_id: boundedId(128),
  attrs: attrsSchema.optional(),
};

/** One span event (SPEC §1): a discriminated union on `kind`. */
export const spanEventSchema = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('run_start'), limits: limitsSchema.optional() }),
  z.object({ ...base, kind: z.literal('llm_call'), llm: llmSchema }),
  z.object({ ...base, kind: z.literal('tool_call'), tool: toolSchema }),
  z.object({ ...base, kind: z.literal('judge_score'), judge: judgeSchema }),
  z.object({ ...base, kind: z.literal('run_end'), status: z.enum(RUN_STATUSES) }),
  z.object({ ...base, kind: z.literal('side_effect'), tool: toolSchema.optional() }),
]);

/** A validated span event, `ts` normalised to epoch ms. */
export type SpanEvent = z.output<typeof spanEventSchema>;
/** What a producer writes (ts may be an ISO string). */
export type SpanEventInput = z.input<typeof spanEventSchema>;
export type SpanKind = SpanEvent['kind'];
export type RunStatus = (typeof RUN_STATUSES)[number];
export type ToolStatus = (typeof TOOL_STATUSES)[number];
export type SpanLimits = z.infer<typeof limitsSchema>;
export type LlmUsage = z.infer<typeof llmSchema>;
export type ToolUse = z.infer<typeof toolSchema>;
export type JudgeScore = z.infer<typeof judgeSchema>;
export type SpanOf<K extends SpanKind> = Extract<SpanEvent, { kind: K }>;
