import type { StepCapParams, StepCaps } from '../../detectors/step-cap.ts';
import type { SpanLimits } from '../contracts/span.ts';
import type { AgentPolicy } from './policy-schema.ts';

/** Distinct tightened caps shared per agent policy; past this, new ones are made per run (still correct, just not shared). */
const MAX_SHARED_PER_POLICY = 256;

interface Shared {
  /** The policy's own caps. */
  base: Readonly<StepCaps>;
  baseKey: string;
  /** Tightened caps by `llm|tool|tokens|cost`. */
  tightened: Map<string, Readonly<StepCaps>>;
}

/** Per `step_cap` section of a resolved policy (policies are not mutated once loaded). */
const shared = new WeakMap<StepCapParams, Shared>();

/**
 * A run's caps: the policy's, tightened by the run_start `limits`. Each limit can only lower
 * its cap (min of the two), never raise it — a producer cannot buy itself more budget.
 *
 * The result is frozen and shared: every run of an agent whose limits tighten nothing (or the
 * same way) gets the same object, so the run table holds one caps object per (agent, limits),
 * not one per run.
 */
export function effectiveCaps(resolved: Pick<AgentPolicy, 'step_cap'>, limits?: SpanLimits): Readonly<StepCaps> {
  const p = resolved.step_cap;
  let entry = shared.get(p);
  if (!entry) {
    const base = capsOf(p, undefined);
    entry = { base, baseKey: keyOf(base), tightened: new Map() };
    shared.set(p, entry);
  }
  if (limits === undefined) return entry.base;
  const caps = capsOf(p, limits);
  const { base } = entry;
  const key = keyOf(caps);
  if (key === entry.baseKey) return base;
  const known = entry.tightened.get(key);
  if (known) return known;
  if (entry.tightened.size < MAX_SHARED_PER_POLICY) entry.tightened.set(key, caps);
  return caps;
}

/** Number to key: String() writes -0 as 0, and a cap of -0 must stay -0. */
const keyPart = (x: number): string => (Object.is(x, -0) ? '-0' : String(x));
/** The caps a run's limits can change (warn_ratio is the policy's alone). */
const keyOf = (c: StepCaps): string => [c.max_llm_calls, c.max_tool_calls, c.max_tokens, c.max_cost_usd].map(keyPart).join('|');

function capsOf(p: StepCapParams, limits: SpanLimits | undefined): Readonly<StepCaps> {
  const tighten = (cap: number, limit: number | undefined) => (limit === undefined ? cap : Math.min(cap, limit));
  return Object.freeze({
    max_llm_calls: tighten(p.max_llm_calls, limits?.max_llm_calls),
    max_tool_calls: tighten(p.max_tool_calls, limits?.max_tool_calls),
    max_tokens: tighten(p.max_tokens, limits?.max_tokens),
    max_cost_usd: tighten(p.max_cost_usd, limits?.max_cost_usd),
    warn_ratio: p.warn_ratio,
  });
}
