import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import YAML from 'yaml';
import { BUDGETS_DEFAULTS, type BudgetsPolicy } from '../budgets/budgets-policy.ts';
import { toolLoopParamIssues } from '../../detectors/tool-loop.ts';
import { DEFAULT_PRICE_TABLE, type ModelPrice, type PriceTable } from '../pricing/price-table.ts';
import { defined } from '../util/defined.ts';
import { formatIssue, formatZodIssues } from './format-issues.ts';
import {
  AGENT_DEFAULTS,
  RUNS_DEFAULTS,
  agentIdSchema,
  agentOverrideSchema,
  agentPolicySchema,
  policyFileSchema,
  type AgentOverride,
  type AgentPolicy,
  type PolicyFile,
  type RunsPolicy,
} from './policy-schema.ts';

/** A validated policy: defaults and every listed agent already merged and checked. */
export interface Policy {
  defaults: AgentPolicy;
  /** agent_id → its resolved policy (defaults + override). Agents not listed use `defaults`. */
  agents: ReadonlyMap<string, AgentPolicy>;
  runs: RunsPolicy;
  /** Model (lower case) → usd per 1M tokens. */
  pricing: PriceTable;
  /** Monthly budgets, the daily product spike and unknown models (src/budgets), checked on a schedule. */
  budgets: BudgetsPolicy;
}

export type PolicyFormat = 'yaml' | 'json';

/** A policy that cannot be used, with one line per problem: `path: what to change (got value)`. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  /** A policy does not fix itself: retrying cannot help. */
  readonly retriable = false;
  constructor(
    readonly issues: readonly string[],
    readonly source = 'policy',
    options?: ErrorOptions,
  ) {
    super(`invalid ${source}:\n${issues.map((i) => `  - ${i}`).join('\n')}`, options);
  }
}

/**
 * Validates an already parsed policy document (`null`/empty means all defaults) and resolves
 * every agent. Throws PolicyError listing every problem, not only the first.
 */
export function parsePolicy(doc: unknown, source = 'policy'): Policy {
  const input = doc ?? {};
  const parsed = policyFileSchema.safeParse(input, { reportInput: true });
  const issues = parsed.success ? [] : formatZodIssues(parsed.error);
  // When the file has schema errors, the sections that are valid on their own still get their
  // cross-field checks, so one run lists every problem.
  const file = parsed.success ? parsed.data : validSections(input);

  const agents = new Map<string, AgentPolicy>();
  let defaults = AGENT_DEFAULTS;
  if (file) {
    defaults = resolveAgent(AGENT_DEFAULTS, file.defaults, ['defaults'], issues);
    for (const [agentId, override] of Object.entries(file.agents ?? {})) {
      agents.set(agentId, resolveAgent(defaults, override, ['agents', agentId], issues));
    }
  }
  if (issues.length || !parsed.success) throw new PolicyError(issues, source);
  const valid = parsed.data;

  const models: Record<string, ModelPrice> = valid.pricing?.replace_defaults ? {} : { ...DEFAULT_PRICE_TABLE };
  for (const [model, price] of Object.entries(valid.pricing?.models ?? {})) models[model.toLowerCase()] = price;

  return { defaults, agents, runs: { ...RUNS_DEFAULTS, ...defined(valid.runs) }, pricing: models, budgets: valid.budgets ?? BUDGETS_DEFAULTS };
}

/** Parses policy text (YAML or JSON) and validates it. Throws PolicyError. */
export function loadPolicy(text: string, format: PolicyFormat, source = 'policy'): Policy {
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new PolicyError([`not valid ${format.toUpperCase()}: ${(err as Error).message}`], source, { cause: err });
  }
  return parsePolicy(doc, source);
}

/** Reads a policy file; `.json` is JSON, anything else (`.yaml`, `.yml`) YAML. Throws PolicyError. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyError([`cannot read the policy file: ${(err as Error).message}`], path, { cause: err });
  }
  return loadPolicy(text, extname(path).toLowerCase() === '.json' ? 'json' : 'yaml', path);
}

/** The policy with no file: every default. */
export const DEFAULT_POLICY: Policy = parsePolicy({});

/** Merges an override over a base field by field, then checks the result as a whole. */
function resolveAgent(base: AgentPolicy, override: AgentOverride | undefined, at: string[], issues: string[]): AgentPolicy {
  const o = override ?? {};
  const merged = {
    ...base,
    ...pickLater(o),
    step_cap: { ...base.step_cap, ...defined(o.step_cap) },
    tool_loop: { ...base.tool_loop, ...defined(o.tool_loop) },
    commands: { ttl: { ...base.commands.ttl, ...defined(o.commands?.ttl) } },
  };
  const checked = agentPolicySchema.safeParse(merged, { reportInput: true });
  if (!checked.success) {
    issues.push(...formatZodIssues(checked.error, at));
    return base;
  }
  const overrides = (field: string) => o.tool_loop !== undefined && o.tool_loop[field as keyof typeof o.tool_loop] !== undefined;
  for (const i of toolLoopParamIssues(checked.data.tool_loop)) {
    // None of its fields set here: the same problem is in the base and reported there, once.
    if (!i.fields.some(overrides)) continue;
    issues.push(formatIssue([...at, 'tool_loop', i.path], i.message + (overrides(i.path) ? '' : ' (value inherited from defaults)')));
  }
  return checked.data;
}

/**
 * `defaults` and each `agents.<id>` of a file that failed validation, kept when valid on their
 * own (agents only when the defaults are, since they are merged over them); undefined when the
 * document is not a mapping at all.
 */
function validSections(input: unknown): Pick<PolicyFile, 'defaults' | 'agents'> | undefined {
  if (!isMapping(input)) return undefined;
  const defaults = agentOverrideSchema.safeParse(input['defaults'] ?? {});
  if (!defaults.success) return undefined;
  const agents: Record<string, AgentOverride> = {};
  const raw = input['agents'];
  if (isMapping(raw)) {
    for (const [agentId, override] of Object.entries(raw)) {
      const ok = agentIdSchema.safeParse(agentId).success ? agentOverrideSchema.safeParse(override) : undefined;
      if (ok?.success) agents[agentId] = ok.data;
    }
  }
  return { defaults: defaults.data, agents };
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function pickLater(o: AgentOverride): Partial<AgentPolicy> {
  const out: Partial<AgentPolicy> = {};
  if (o.cost_spike) out.cost_spike = o.cost_spike;
  if (o.judge_drift) out.judge_drift = o.judge_drift;
  return out;
}
