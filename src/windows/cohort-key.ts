import { MISSING_DIM } from '../contracts/cohort-id.ts';
import type { SpanEvent } from '../contracts/span.ts';

export { MISSING_DIM };

/** A cohort: each dimension → its value, e.g. {agent_id: "bot", model_version: "v2"}. */
export type CohortDims = Readonly<Record<string, string>>;

/** The canonical cohort id: the wire format of cohort scope ids (src/contracts/cohort-id.ts). */
export { cohortId as cohortKey } from '../contracts/cohort-id.ts';

/**
 * The event's cohort over `dims`. A dimension is an owner id (`agent_id`, `tenant_id`,
 * `user_id`), `model` (the model of an `llm_call`) or an attribute name (`model_version`,
 * `prompt_hash`, `plan_tier`, …); what the event lacks becomes MISSING_DIM.
 */
export function cohortOf(event: SpanEvent, dims: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of dims) out[d] = dimValue(event, d) ?? MISSING_DIM;
  return out;
}

/** The value of one cohort dimension on `event`, undefined when the event does not carry it. */
export function dimValue(event: SpanEvent, dim: string): string | undefined {
  switch (dim) {
    case 'agent_id':
      return event.agent_id;
    case 'tenant_id':
      return event.tenant_id;
    case 'user_id':
      return event.user_id;
    case 'model':
      return event.kind === 'llm_call' ? event.llm.model : event.attrs?.['model'];
    default:
      return event.attrs?.[dim];
  }
}

/** `dims` without the dimensions in `drop` (e.g. a judge cohort without its version dimensions). */
export function withoutDims(dims: CohortDims, drop: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(dims)) if (!drop.includes(k)) out[k] = v;
  return out;
}

/** `dims` restricted to `keep`. */
export function pickDims(dims: CohortDims, keep: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keep) {
    const v = dims[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
