import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import YAML from 'yaml';
import { ALERTS_DEFAULTS, type AlertsPolicy } from '../alerts/alerts-policy.ts';
import { BUDGETS_DEFAULTS, type BudgetsPolicy } from '../budgets/budgets-policy.ts';
import { costSpikeParamIssues } from '../../detectors/cost-spike.ts';
import { judgeDriftParamIssues } from '../../detectors/judge-drift.ts';
import { toolLoopParamIssues } from '../../detectors/tool-loop.ts';
import { DEFAULT_PRICE_TABLE, type ModelPrice, type PriceTable } from '../pricing/price-table.ts';
import { COHORTS_DEFAULTS, cohortsIssues, cohortsPolicySchema, type CohortsPolicy } from './cohorts-policy.ts';
import type { SectionIssue } from './fields.ts';
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
  /** Cohort dimensions of the cohort detectors, per view. */
  cohorts: CohortsPolicy;
  /** Alert sinks for findings (src/alerts); no sinks: no alerts stage. */
  alerts: AlertsPolicy;
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
  // The cohorts as given, or null when the section is itself invalid (then nothing is checked against it).
  const given = parsed.success ? parsed.data.cohorts : validCohorts(input);
  const cohorts: CohortsPolicy = { ...COHORTS_DEFAULTS, ...defined(given ?? undefined) };
  if (file && given !== null) {
    for (const i of cohortsIssues(cohorts)) issues.push(formatIssue(['cohorts', i.path], i.message));
    issues.push(...versionDimIssues(cohorts, defaults, file));
  }
  if (issues.length || !parsed.success) throw new PolicyError(issues, source);
  const valid = parsed.data;

  const models: Record<string, ModelPrice> = valid.pricing?.replace_defaults ? {} : { ...DEFAULT_PRICE_TABLE };
  for (const [model, price] of Object.entries(valid.pricing?.models ?? {})) models[model.toLowerCase()] = price;

  return { defaults, agents, runs: { ...RUNS_DEFAULTS, ...defined(valid.runs) }, pricing: models, budgets: valid.budgets ?? BUDGETS_DEFAULTS, cohorts, alerts: valid.alerts ?? ALERTS_DEFAULTS };
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
    step_cap: { ...base.step_cap, ...defined(o.step_cap) },
    tool_loop: { ...base.tool_loop, ...defined(o.tool_loop) },
    commands: { ttl: { ...base.commands.ttl, ...defined(o.commands?.ttl) } },
    cost_spike: { ...base.cost_spike, ...defined(o.cost_spike) },
    judge_drift: { ...base.judge_drift, ...defined(o.judge_drift) },
  };
  const checked = agentPolicySchema.safeParse(merged, { reportInput: true });
  if (!checked.success) {
    issues.push(...formatZodIssues(checked.error, at));
    return base;
  }
  const p = checked.data;
  crossFieldIssues(toolLoopParamIssues(p.tool_loop), o.tool_loop, [...at, 'tool_loop'], issues);
  crossFieldIssues(costSpikeParamIssues(p.cost_spike), o.cost_spike, [...at, 'cost_spike'], issues);
  crossFieldIssues(judgeDriftParamIssues(p.judge_drift), o.judge_drift, [...at, 'judge_drift'], issues);
  return p;
}

/**
 * Reports a section's cross-field problems where they were made: one that involves none of the
 * fields this override sets is in the base and reported there, once.
 */
function crossFieldIssues(found: readonly SectionIssue[], set: object | undefined, at: readonly string[], issues: string[]): void {
  const overrides = (field: string) => set !== undefined && (set as Record<string, unknown>)[field] !== undefined;
  for (const i of found) {
    if (!i.fields.some(overrides)) continue;
    issues.push(formatIssue([...at, i.path], i.message + (overrides(i.path) ? '' : ' (value inherited from defaults)')));
  }
}

/**
 * Every agent's `judge_drift.version_dims` must be dimensions of the judge cohorts, or a version
 * change would go unseen. Reported at the list the file set: the defaults' (or `cohorts.judge`
 * when the defaults are built in) and each agent override's.
 */
function versionDimIssues(cohorts: CohortsPolicy, defaults: AgentPolicy, file: Pick<PolicyFile, 'defaults' | 'agents'>): string[] {
  const out: string[] = [];
  const missing = (dims: readonly string[]) => dims.filter((d) => !cohorts.judge.includes(d));
  const fix = (at: (string | number)[], dims: readonly string[]) => {
    const m = missing(dims);
    if (m.length > 0) out.push(formatIssue(at, `must be dimensions of cohorts.judge (${cohorts.judge.join(', ')}): add ${m.join(', ')} to cohorts.judge or remove ${m.length > 1 ? 'them' : 'it'} here`));
  };
  const dims = defaults.judge_drift.version_dims;
  if (file.defaults?.judge_drift?.version_dims) fix(['defaults', 'judge_drift', 'version_dims'], dims);
  else if (missing(dims).length > 0) {
    const what = `must include every dimension of judge_drift.version_dims (${dims.join(', ')}): add ${missing(dims).join(', ')} or set defaults.judge_drift.version_dims`;
    out.push(formatIssue(['cohorts', 'judge'], what));
  }
  for (const [agentId, o] of Object.entries(file.agents ?? {})) {
    if (o.judge_drift?.version_dims) fix(['agents', agentId, 'judge_drift', 'version_dims'], o.judge_drift.version_dims);
  }
  return out;
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

/** The `cohorts` section of a file that failed validation: as given when valid on its own, else null. */
function validCohorts(input: unknown): PolicyFile['cohorts'] | null {
  const raw = isMapping(input) ? input['cohorts'] : undefined;
  if (raw === undefined) return undefined;
  const ok = cohortsPolicySchema.partial().safeParse(raw);
  return ok.success ? ok.data : null;
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
