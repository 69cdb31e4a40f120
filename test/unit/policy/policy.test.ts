import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COST_SPIKE_DEFAULTS } from '../../../detectors/cost-spike.ts';
import { JUDGE_DRIFT_DEFAULTS } from '../../../detectors/judge-drift.ts';
import { STEP_CAP_DEFAULTS } from '../../../detectors/step-cap.ts';
import { TOOL_LOOP_DEFAULTS } from '../../../detectors/tool-loop.ts';
import type { SpanLimits } from '../../../src/contracts/span.ts';
import { COHORTS_DEFAULTS } from '../../../src/policy/cohorts-policy.ts';
import { parseDurationMs } from '../../../src/policy/duration.ts';
import { effectiveCaps } from '../../../src/policy/effective-caps.ts';
import { DEFAULT_POLICY, loadPolicy, parsePolicy, PolicyError, type Policy } from '../../../src/policy/policy.ts';
import { AGENT_DEFAULTS, COMMANDS_DEFAULTS, RUNS_DEFAULTS, type AgentPolicy } from '../../../src/policy/policy-schema.ts';
import { resolvePolicy } from '../../../src/policy/resolve-policy.ts';
import { DEFAULT_PRICE_TABLE } from '../../../src/pricing/price-table.ts';

/** The issues of a policy that must fail; fails the test if it parses. */
function issuesOf(doc: unknown): readonly string[] {
  try {
    parsePolicy(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).issues;
  }
  throw new Error('expected a PolicyError');
}

const YAML_POLICY = `
version: 1
defaults:
  step_cap:
    max_llm_calls: 40
    max_cost_usd: 2.5
  tool_loop:
    max_differing_consecutive_abort: 20
  commands:
    ttl:
      abort: 2h
agents:
  support-bot:
    step_cap:
      max_llm_calls: 10
    tool_loop:
      enabled: false
  research-agent:
    tool_loop:
      max_differing_consecutive_warn: 10
      max_differing_consecutive_abort: 50
runs:
  grace_after_end: 90s
  idle_timeout: 15m
  max_runs: 5000
pricing:
  models:
    My-Model:
      input_usd_per_mtok: 1
      output_usd_per_mtok: 2
`;

const JSON_POLICY = JSON.stringify({
  version: 1,
  defaults: { step_cap: { max_llm_calls: 40, max_cost_usd: 2.5 }, tool_loop: { max_differing_consecutive_abort: 20 }, commands: { ttl: { abort: '2h' } } },
  agents: {
    'support-bot': { step_cap: { max_llm_calls: 10 }, tool_loop: { enabled: false } },
    'research-agent': { tool_loop: { max_differing_consecutive_warn: 10, max_differing_consecutive_abort: 50 } },
  },
  runs: { grace_after_end: 90_000, idle_timeout: '15m', max_runs: 5000 },
  pricing: { models: { 'My-Model': { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } } },
});

describe('loading YAML and JSON', () => {
  it('the same policy in YAML and in JSON resolves identically', () => {
    const fromYaml = loadPolicy(YAML_POLICY, 'yaml');
    const fromJson = loadPolicy(JSON_POLICY, 'json');
    expect(fromJson.defaults).toEqual(fromYaml.defaults);
    expect([...fromJson.agents]).toEqual([...fromYaml.agents]);
    expect(fromJson.runs).toEqual(fromYaml.runs);
    expect(fromJson.pricing).toEqual(fromYaml.pricing);
  });

  it('merges global defaults over the built-in ones, field by field', () => {
    const p = loadPolicy(YAML_POLICY, 'yaml');
    expect(p.defaults.step_cap).toEqual({ ...STEP_CAP_DEFAULTS, max_llm_calls: 40, max_cost_usd: 2.5 });
    expect(p.defaults.tool_loop).toEqual({ ...TOOL_LOOP_DEFAULTS, max_differing_consecutive_abort: 20 });
    expect(p.defaults.commands.ttl).toEqual({ ...COMMANDS_DEFAULTS.ttl, abort: 7_200_000 });
    expect(p.runs).toEqual({ grace_after_end: 90_000, idle_timeout: 900_000, max_runs: 5000 });
  });

  it('merges each agent override over the global defaults, not over the built-ins', () => {
    const p = loadPolicy(YAML_POLICY, 'yaml');
    const support = resolvePolicy(p, 'support-bot');
    expect(support.step_cap).toEqual({ ...STEP_CAP_DEFAULTS, max_llm_calls: 10, max_cost_usd: 2.5 });
    expect(support.tool_loop).toEqual({ ...TOOL_LOOP_DEFAULTS, max_differing_consecutive_abort: 20, enabled: false });
    expect(support.commands.ttl.abort).toBe(7_200_000);
    const research = resolvePolicy(p, 'research-agent');
    expect(research.tool_loop).toMatchObject({ max_differing_consecutive_warn: 10, max_differing_consecutive_abort: 50 });
    expect(research.step_cap.max_llm_calls).toBe(40);
  });

  it('merges cost_spike and judge_drift field by field, like step_cap', () => {
    const p = parsePolicy({
      defaults: { cost_spike: { spike_k: 8, min_spend_usd_per_minute: 2 }, judge_drift: { min_samples: 50 } },
      agents: { bot: { cost_spike: { spike_k: 5 }, judge_drift: { canary_throttle: true, version_dims: ['model_version'] } } },
    });
    expect(p.defaults.cost_spike).toEqual({ ...COST_SPIKE_DEFAULTS, spike_k: 8, min_spend_usd_per_minute: 2 });
    expect(p.defaults.judge_drift).toEqual({ ...JUDGE_DRIFT_DEFAULTS, min_samples: 50 });
    const bot = resolvePolicy(p, 'bot');
    expect(bot.cost_spike).toEqual({ ...COST_SPIKE_DEFAULTS, spike_k: 5, min_spend_usd_per_minute: 2 });
    expect(bot.judge_drift).toEqual({ ...JUDGE_DRIFT_DEFAULTS, min_samples: 50, canary_throttle: true, version_dims: ['model_version'] });
  });

  it('cohorts: each view given replaces its default list; the others keep theirs', () => {
    expect(DEFAULT_POLICY.cohorts).toEqual(COHORTS_DEFAULTS);
    expect(COHORTS_DEFAULTS.spend).toEqual(['tenant_id', 'agent_id', 'user_id', 'model']);
    expect(COHORTS_DEFAULTS.judge).toEqual(['agent_id', 'model_version', 'prompt_hash']);
    const p = parsePolicy({ cohorts: { spend: ['tenant_id', 'model'], segments: ['plan_tier', 'region'] } });
    expect(p.cohorts).toEqual({ ...COHORTS_DEFAULTS, spend: ['tenant_id', 'model'], segments: ['plan_tier', 'region'] });
  });

  it('an agent not listed gets the global defaults', () => {
    const p = loadPolicy(YAML_POLICY, 'yaml');
    expect(resolvePolicy(p, 'someone-else')).toBe(p.defaults);
  });

  it.each([
    ['empty YAML', '', 'yaml'],
    ['YAML comment only', '# nothing here\n', 'yaml'],
    ['YAML null', 'null', 'yaml'],
    ['empty JSON object', '{}', 'json'],
  ] as const)('%s means every default', (_name, text, format) => {
    const p = loadPolicy(text, format);
    expect(p.defaults).toEqual(AGENT_DEFAULTS);
    expect(p.agents.size).toBe(0);
    expect(p.runs).toEqual(RUNS_DEFAULTS);
    expect(p.pricing).toEqual(DEFAULT_PRICE_TABLE);
  });

  it('DEFAULT_POLICY carries the SPEC defaults (30 LLM calls, 100 tool calls, 200k tokens, $5, warn at 75 %)', () => {
    expect(DEFAULT_POLICY.defaults.step_cap).toMatchObject({
      enabled: true,
      max_llm_calls: 30,
      max_tool_calls: 100,
      max_tokens: 200_000,
      max_cost_usd: 5,
      warn_ratio: 0.75,
    });
    expect(DEFAULT_POLICY.defaults.tool_loop).toMatchObject({
      max_identical_consecutive: 5,
      max_differing_consecutive_warn: 5,
      cycle_min_period: 2,
      cycle_max_period: 4,
      cycle_min_turns: 3,
      repeat_warn_at: 3,
    });
  });

  it.each([
    ['YAML', 'defaults: [1,', 'yaml', /^not valid YAML: /],
    ['JSON', '{"defaults": ', 'json', /^not valid JSON: /],
  ] as const)('unparseable %s is one issue that says so', (_name, text, format, pattern) => {
    try {
      loadPolicy(text, format, 'policy.x');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      const e = err as PolicyError;
      expect(e.issues).toHaveLength(1);
      expect(e.issues[0]).toMatch(pattern);
      expect(e.source).toBe('policy.x');
      expect(e.retriable).toBe(false);
      expect(e.cause).toBeDefined();
    }
  });

  it('PolicyError lists every issue in its message, one per line, under the source', () => {
    const e = new PolicyError(['a: x', 'b: y'], 'policy.yaml');
    expect(e.name).toBe('PolicyError');
    expect(e.message).toBe('invalid policy.yaml:\n  - a: x\n  - b: y');
  });
});

describe('pricing section', () => {
  it('model names are lower-cased and merged over the built-in table', () => {
    const p = loadPolicy(YAML_POLICY, 'yaml');
    expect(p.pricing['my-model']).toEqual({ input_usd_per_mtok: 1, output_usd_per_mtok: 2 });
    expect(p.pricing['gpt-4o']).toEqual(DEFAULT_PRICE_TABLE['gpt-4o']);
  });

  it('an entry overrides the built-in price of the same model', () => {
    const p = parsePolicy({ pricing: { models: { 'GPT-4o': { input_usd_per_mtok: 9, output_usd_per_mtok: 9 } } } });
    expect(p.pricing['gpt-4o']).toEqual({ input_usd_per_mtok: 9, output_usd_per_mtok: 9 });
  });

  it('replace_defaults drops the built-in table', () => {
    const p = parsePolicy({ pricing: { replace_defaults: true, models: { m: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } } } });
    expect(Object.keys(p.pricing)).toEqual(['m']);
  });
});

describe('rejected policies: each issue names the path, what to change, and the value it got', () => {
  const cases: { name: string; doc: unknown; issues: (string | RegExp)[] }[] = [
    {
      name: 'a typo in a field name',
      doc: { defaults: { step_cap: { max_llm_call: 3 } } },
      issues: [
        'defaults.step_cap: unknown field "max_llm_call"; expected one of: enabled, max_llm_calls, max_tool_calls, max_tokens, max_cost_usd, warn_ratio',
      ],
    },
    {
      name: 'an unknown field in an agent override',
      doc: { agents: { bot: { tool_loop: { max_identical: 3 } } } },
      issues: [/^agents\.bot\.tool_loop: unknown field "max_identical"; expected one of: enabled, max_identical_consecutive, /],
    },
    {
      name: 'an unknown top-level section',
      doc: { defautls: {} },
      issues: ['(policy): unknown field "defautls"; expected one of: version, defaults, agents, runs, pricing, budgets, cohorts, alerts'],
    },
    {
      name: 'an unknown section inside an agent',
      doc: { agents: { bot: { stepcap: {} } } },
      issues: [/^agents\.bot: unknown field "stepcap"; expected one of: step_cap, tool_loop, commands, /],
    },
    { name: 'an unknown ttl action', doc: { defaults: { commands: { ttl: { kill: '1h' } } } }, issues: ['defaults.commands.ttl: unknown field "kill"; expected one of: abort, warn, throttle'] },
    { name: 'an unknown runs field', doc: { runs: { grace: 5 } }, issues: ['runs: unknown field "grace"; expected one of: grace_after_end, idle_timeout, max_runs'] },
    {
      name: 'an unknown price field',
      doc: { pricing: { models: { m: { input_usd_per_mtok: 1, output_usd_per_mtok: 1, cache_usd_per_mtok: 1 } } } },
      issues: ['pricing.models.m: unknown field "cache_usd_per_mtok"; expected input_usd_per_mtok, output_usd_per_mtok, cached_usd_per_mtok'],
    },
    { name: 'a negative cap', doc: { agents: { bot: { step_cap: { max_llm_calls: -3 } } } }, issues: ['agents.bot.step_cap.max_llm_calls: must be a positive integer (got -3)'] },
    { name: 'a zero cap', doc: { defaults: { step_cap: { max_tool_calls: 0 } } }, issues: ['defaults.step_cap.max_tool_calls: must be a positive integer (got 0)'] },
    { name: 'a fractional count', doc: { defaults: { step_cap: { max_tokens: 1.5 } } }, issues: ['defaults.step_cap.max_tokens: must be a positive integer (got 1.5)'] },
    { name: 'a number as a string', doc: { defaults: { step_cap: { max_llm_calls: '30' } } }, issues: ['defaults.step_cap.max_llm_calls: must be a positive integer (got "30")'] },
    { name: 'a zero cost cap', doc: { defaults: { step_cap: { max_cost_usd: 0 } } }, issues: ['defaults.step_cap.max_cost_usd: must be a positive number (usd) (got 0)'] },
    { name: 'a warn ratio above 1', doc: { defaults: { step_cap: { warn_ratio: 1.5 } } }, issues: ['defaults.step_cap.warn_ratio: must be greater than 0 and at most 1 (got 1.5)'] },
    { name: 'a warn ratio of 0', doc: { defaults: { step_cap: { warn_ratio: 0 } } }, issues: ['defaults.step_cap.warn_ratio: must be greater than 0 and at most 1 (got 0)'] },
    {
      name: 'a boolean spelled as a string',
      doc: { defaults: { tool_loop: { enabled: 'false' } } },
      issues: ['defaults.tool_loop.enabled: must be true or false (a YAML/JSON boolean, not a string) (got "false")'],
    },
    { name: 'a section that is not a mapping', doc: { defaults: { step_cap: 30 } }, issues: [/^defaults\.step_cap: must be a mapping with fields: enabled, max_llm_calls, .* \(got 30\)$/] },
    { name: 'a document that is a list', doc: [1, 2], issues: ['(policy): must be a mapping with fields: version, defaults, agents, runs, pricing, budgets, cohorts, alerts'] },
    { name: 'an unknown format version', doc: { version: 2 }, issues: ['version: must be 1 (the only policy format version) (got 2)'] },
    { name: 'an empty agent_id', doc: { agents: { '': {} } }, issues: ['agents[""]: the agent_id must not be empty (got "")'] },
    { name: 'agents that is not a mapping', doc: { agents: ['bot'] }, issues: ['agents: must be a mapping of agent_id → overrides'] },
    { name: 'a cycle period above the ring', doc: { defaults: { tool_loop: { cycle_min_period: 9 } } }, issues: ['defaults.tool_loop.cycle_min_period: must be at most 8 (got 9)'] },
    { name: 'a period-1 cycle', doc: { defaults: { tool_loop: { cycle_min_period: 1 } } }, issues: [/^defaults\.tool_loop\.cycle_min_period: must be at least 2 \(period 1 is the consecutive rule\) \(got 1\)$/] },
    { name: 'tracking too many calls', doc: { defaults: { tool_loop: { max_tracked_calls: 20_000 } } }, issues: ['defaults.tool_loop.max_tracked_calls: must be at most 10000 (got 20000)'] },
    {
      name: 'budgets inside an agent section (budgets are top-level)',
      doc: { defaults: { budgets: {} } },
      issues: ['defaults: unknown field "budgets"; expected one of: step_cap, tool_loop, commands, cost_spike, judge_drift'],
    },
    { name: 'a cost_spike section that is not a mapping', doc: { defaults: { cost_spike: 5 } }, issues: [/^defaults\.cost_spike: must be a mapping with fields: enabled, baseline_minutes, .* \(got 5\)$/] },
    {
      name: 'a typo in a cost_spike field',
      doc: { agents: { bot: { cost_spike: { spike_ratio: 3 } } } },
      issues: [/^agents\.bot\.cost_spike: unknown field "spike_ratio"; expected one of: enabled, baseline_minutes, /],
    },
    { name: 'a cost_spike baseline that is too short', doc: { defaults: { cost_spike: { baseline_minutes: 5 } } }, issues: ['defaults.cost_spike.baseline_minutes: must be at least 10 (got 5)'] },
    { name: 'a judge_drift alpha above 1', doc: { defaults: { judge_drift: { alpha: 2 } } }, issues: ['defaults.judge_drift.alpha: must be greater than 0 and at most 1 (got 2)'] },
    { name: 'judge_drift version_dims that repeat', doc: { defaults: { judge_drift: { version_dims: ['model_version', 'model_version'] } } }, issues: ['defaults.judge_drift.version_dims: must not repeat a dimension'] },
    { name: 'an unknown cohorts view', doc: { cohorts: { spends: ['tenant_id'] } }, issues: ['cohorts: unknown field "spends"; expected one of: spend, user, agent, judge, segments'] },
    { name: 'an empty cohort', doc: { cohorts: { spend: [] } }, issues: ['cohorts.spend: needs at least 1 dimension'] },
    { name: 'a cohort dimension with a comma', doc: { cohorts: { judge: ['agent_id', 'a,b'] } }, issues: ['cohorts.judge[1]: must be a dimension name: 1 to 128 letters, digits or _ . : - (got "a,b")'] },
    { name: 'cohorts given as a string', doc: { cohorts: { segments: 'plan_tier' } }, issues: ['cohorts.segments: must be a list of dimension names (got "plan_tier")'] },
    {
      name: 'run-token cohorts by an attribute',
      doc: { cohorts: { agent: ['agent_id', 'model'] } },
      issues: ['cohorts.agent: must be owner dimensions only (agent_id, tenant_id, user_id): runs are grouped by who they belong to'],
    },
    { name: 'a negative price', doc: { pricing: { models: { m: { input_usd_per_mtok: -1, output_usd_per_mtok: 1 } } } }, issues: ['pricing.models.m.input_usd_per_mtok: must not be negative (usd per 1M tokens) (got -1)'] },
    { name: 'an agent_id with a dot is quoted in the path', doc: { agents: { 'bot.v2': { step_cap: { max_llm_calls: 0 } } } }, issues: ['agents["bot.v2"].step_cap.max_llm_calls: must be a positive integer (got 0)'] },
  ];

  it.each(cases)('$name', ({ doc, issues }) => {
    const got = issuesOf(doc);
    expect(got).toHaveLength(issues.length);
    issues.forEach((want, i) => (typeof want === 'string' ? expect(got[i]).toBe(want) : expect(got[i]).toMatch(want)));
  });
});

describe('cross-field checks say which field to change', () => {
  const cases: { name: string; doc: unknown; issues: string[] }[] = [
    {
      name: 'differing-args abort limit below the warn limit',
      doc: { defaults: { tool_loop: { max_differing_consecutive_warn: 10, max_differing_consecutive_abort: 8 } } },
      issues: ['defaults.tool_loop.max_differing_consecutive_abort: must be at least max_differing_consecutive_warn (10): raise it or lower the warn limit; got 8'],
    },
    {
      name: 'cycle max period below the min period',
      doc: { defaults: { tool_loop: { cycle_min_period: 4, cycle_max_period: 3 } } },
      issues: ['defaults.tool_loop.cycle_max_period: must be at least cycle_min_period (4): raise it or lower cycle_min_period; got 3'],
    },
    {
      name: 'an agent warn limit above the inherited abort limit says the value is inherited',
      doc: { agents: { bot: { tool_loop: { max_differing_consecutive_warn: 20 } } } },
      issues: [
        'agents.bot.tool_loop.max_differing_consecutive_abort: must be at least max_differing_consecutive_warn (20): raise it or lower the warn limit; got 15 (value inherited from defaults)',
      ],
    },
    {
      name: 'a problem in the defaults is reported once, not again under every agent that inherits it',
      doc: { defaults: { tool_loop: { max_differing_consecutive_abort: 2 } }, agents: { a: {}, b: { step_cap: { max_llm_calls: 3 } } } },
      issues: ['defaults.tool_loop.max_differing_consecutive_abort: must be at least max_differing_consecutive_warn (5): raise it or lower the warn limit; got 2'],
    },
    {
      name: 'an agent fixing the defaults’ problem is fine; one touching the pair is checked',
      doc: {
        defaults: { tool_loop: { max_differing_consecutive_abort: 2 } },
        agents: { fixed: { tool_loop: { max_differing_consecutive_warn: 2 } }, broken: { tool_loop: { max_differing_consecutive_warn: 3 } } },
      },
      issues: [
        'defaults.tool_loop.max_differing_consecutive_abort: must be at least max_differing_consecutive_warn (5): raise it or lower the warn limit; got 2',
        'agents.broken.tool_loop.max_differing_consecutive_abort: must be at least max_differing_consecutive_warn (3): raise it or lower the warn limit; got 2 (value inherited from defaults)',
      ],
    },
    {
      name: 'cost_spike history longer than its baseline',
      doc: { defaults: { cost_spike: { min_history_minutes: 90 } } },
      issues: ['defaults.cost_spike.min_history_minutes: must be at most baseline_minutes (60): lower it or raise baseline_minutes; got 90'],
    },
    {
      name: 'an agent cost_spike baseline below the inherited history says the value is inherited',
      doc: { agents: { bot: { cost_spike: { baseline_minutes: 10 } } } },
      issues: ['agents.bot.cost_spike.min_history_minutes: must be at most baseline_minutes (10): lower it or raise baseline_minutes; got 15 (value inherited from defaults)'],
    },
    {
      name: 'judge_drift windows that are not whole buckets',
      doc: { agents: { bot: { judge_drift: { bucket_minutes: 50, recent_minutes: 300 } } } },
      issues: [
        'agents.bot.judge_drift.reference_minutes: must be a multiple of bucket_minutes (50); got 10080 (value inherited from defaults)',
        'agents.bot.judge_drift.anchor_minutes: must be a multiple of bucket_minutes (50); got 4320 (value inherited from defaults)',
      ],
    },
    {
      name: 'judge cohorts without a built-in version dimension',
      doc: { cohorts: { judge: ['agent_id', 'model_version'] } },
      issues: ['cohorts.judge: must include every dimension of judge_drift.version_dims (model_version, prompt_hash): add prompt_hash or set defaults.judge_drift.version_dims'],
    },
    {
      name: 'default version dimensions outside the judge cohorts',
      doc: { defaults: { judge_drift: { version_dims: ['model_version', 'region'] } } },
      issues: ['defaults.judge_drift.version_dims: must be dimensions of cohorts.judge (agent_id, model_version, prompt_hash): add region to cohorts.judge or remove it here'],
    },
    {
      name: 'an agent’s version dimensions outside the judge cohorts',
      doc: { cohorts: { judge: ['agent_id', 'model_version', 'prompt_hash', 'tool_defs_hash'] }, agents: { bot: { judge_drift: { version_dims: ['tool_defs_hash', 'model', 'env'] } } } },
      issues: [
        'agents.bot.judge_drift.version_dims: must be dimensions of cohorts.judge (agent_id, model_version, prompt_hash, tool_defs_hash): add model, env to cohorts.judge or remove them here',
      ],
    },
    {
      name: 'a segment that is already a judge dimension',
      doc: { cohorts: { segments: ['plan_tier', 'model_version'] } },
      issues: ['cohorts.segments: must not repeat a dimension of cohorts.judge (model_version): it is already in every judge cohort'],
    },
    {
      name: 'cross-field problems of cohorts are listed alongside schema errors elsewhere',
      doc: { runs: { max_runs: 0 }, cohorts: { segments: ['agent_id'] } },
      issues: ['runs.max_runs: must be a positive integer (got 0)', 'cohorts.segments: must not repeat a dimension of cohorts.judge (agent_id): it is already in every judge cohort'],
    },
  ];

  it.each(cases)('$name', ({ doc, issues }) => {
    expect(issuesOf(doc)).toEqual(issues);
  });

  it('an invalid cohorts section is reported once, not checked against the version dimensions', () => {
    expect(issuesOf({ cohorts: { judge: 'agent_id' }, defaults: { judge_drift: { version_dims: ['region'] } } })).toEqual([
      'cohorts.judge: must be a list of dimension names (got "agent_id")',
    ]);
  });

  it('equal warn and abort limits are accepted', () => {
    const p = parsePolicy({ defaults: { tool_loop: { max_differing_consecutive_warn: 7, max_differing_consecutive_abort: 7 } } });
    expect(p.defaults.tool_loop).toMatchObject({ max_differing_consecutive_warn: 7, max_differing_consecutive_abort: 7 });
  });

  it('warn_ratio 1 is accepted (no warn before the abort)', () => {
    expect(parsePolicy({ defaults: { step_cap: { warn_ratio: 1 } } }).defaults.step_cap.warn_ratio).toBe(1);
  });
});

describe('every problem is listed, not only the first', () => {
  it('lists field errors across sections, agents and pricing together', () => {
    const issues = issuesOf({
      defaults: { step_cap: { max_llm_calls: 0, max_tool_calls: 'many' } },
      agents: { a: { tool_loop: { enabled: 'yes' } }, b: { step_cap: { warn_ratio: 2 } } },
      runs: { idle_timeout: '15 minutes' },
      pricing: { models: { m: { input_usd_per_mtok: -1, output_usd_per_mtok: 1 } } },
      extra: true,
    });
    expect(issues.map((i) => i.split(':')[0])).toEqual(
      expect.arrayContaining([
        'defaults.step_cap.max_llm_calls',
        'defaults.step_cap.max_tool_calls',
        'agents.a.tool_loop.enabled',
        'agents.b.step_cap.warn_ratio',
        'runs.idle_timeout',
        'pricing.models.m.input_usd_per_mtok',
        '(policy)',
      ]),
    );
    expect(issues).toHaveLength(7);
  });

  it('lists cross-field problems of valid sections alongside the schema errors elsewhere', () => {
    const issues = issuesOf({
      runs: { max_runs: 0 },
      agents: {
        good: { tool_loop: { cycle_min_period: 4, cycle_max_period: 2 } },
        bad: { step_cap: { max_llm_calls: -1 } },
      },
    });
    expect(issues).toEqual([
      'agents.bad.step_cap.max_llm_calls: must be a positive integer (got -1)',
      'runs.max_runs: must be a positive integer (got 0)',
      'agents.good.tool_loop.cycle_max_period: must be at least cycle_min_period (4): raise it or lower cycle_min_period; got 2',
    ]);
  });

  it('lists several cross-field problems of one agent and of several agents', () => {
    const issues = issuesOf({
      agents: {
        a: { tool_loop: { max_differing_consecutive_warn: 9, max_differing_consecutive_abort: 3, cycle_min_period: 4, cycle_max_period: 2 } },
        b: { tool_loop: { max_differing_consecutive_abort: 1 } },
      },
    });
    expect(issues.map((i) => i.split(':')[0])).toEqual([
      'agents.a.tool_loop.max_differing_consecutive_abort',
      'agents.a.tool_loop.cycle_max_period',
      'agents.b.tool_loop.max_differing_consecutive_abort',
    ]);
  });
});

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    [' 2 m ', 120_000],
    ['0s', 0],
  ])('parseDurationMs(%j) = %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '15', '15 minutes', '1w', '-5m', 'm', '1e3s', '1h30m', 'PT15M'])('parseDurationMs(%j) is not a duration', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it.each([
    ['a string with a unit', { grace_after_end: '15m', idle_timeout: '1h' }, { grace_after_end: 900_000, idle_timeout: 3_600_000 }],
    ['ms as a number', { grace_after_end: 0, idle_timeout: 90_000 }, { grace_after_end: 0, idle_timeout: 90_000 }],
  ])('runs accepts %s', (_name, runs, expected) => {
    expect(parsePolicy({ runs }).runs).toEqual({ ...RUNS_DEFAULTS, ...expected });
  });

  it('command ttls accept durations per action', () => {
    expect(parsePolicy({ defaults: { commands: { ttl: { warn: '5m', throttle: 60_000 } } } }).defaults.commands.ttl).toEqual({
      abort: COMMANDS_DEFAULTS.ttl.abort,
      warn: 300_000,
      throttle: 60_000,
    });
  });

  const HINT = 'must be a duration: milliseconds as a number (90000) or a string such as "90s", "15m", "1h", "7d"';
  it.each([
    ['"15 minutes"', { grace_after_end: '15 minutes' }, `runs.grace_after_end: ${HINT} (got "15 minutes")`],
    ['a fraction of a ms', { grace_after_end: 1.5 }, `runs.grace_after_end: ${HINT} (got 1.5)`],
    ['a boolean', { grace_after_end: true }, `runs.grace_after_end: ${HINT} (got true)`],
    ['a negative number', { grace_after_end: -1 }, 'runs.grace_after_end: must not be negative (got -1)'],
    ['a zero idle timeout', { idle_timeout: '0s' }, 'runs.idle_timeout: must be greater than 0 (got 0)'],
  ])('rejects %s', (_name, runs, issue) => {
    expect(issuesOf({ runs })).toEqual([issue]);
  });
});

describe('effective caps: run limits tighten, never loosen', () => {
  const agent: Pick<AgentPolicy, 'step_cap'> = { step_cap: STEP_CAP_DEFAULTS };

  it.each<[string, SpanLimits | undefined, Partial<Record<string, number>>]>([
    ['no limits', undefined, {}],
    ['empty limits', {}, {}],
    ['tighter limits', { max_llm_calls: 10, max_tool_calls: 20, max_tokens: 1_000, max_cost_usd: 0.5 }, { max_llm_calls: 10, max_tool_calls: 20, max_tokens: 1_000, max_cost_usd: 0.5 }],
    ['looser limits are ignored', { max_llm_calls: 1_000, max_tool_calls: 1_000, max_tokens: 10_000_000, max_cost_usd: 100 }, {}],
    ['zero limits', { max_llm_calls: 0, max_cost_usd: 0 }, { max_llm_calls: 0, max_cost_usd: 0 }],
    ['one tighter, one looser', { max_llm_calls: 5, max_tokens: 1e9 }, { max_llm_calls: 5 }],
  ])('%s', (_name, limits, changed) => {
    expect(effectiveCaps(agent, limits)).toEqual({
      max_llm_calls: 30,
      max_tool_calls: 100,
      max_tokens: 200_000,
      max_cost_usd: 5,
      warn_ratio: 0.75,
      ...changed,
    });
  });

  it('property: each effective cap is min(policy cap, limit) — ≤ the policy cap and ≤ the limit', () => {
    const caps = fc.record({
      enabled: fc.boolean(),
      max_llm_calls: fc.integer({ min: 1, max: 1_000 }),
      max_tool_calls: fc.integer({ min: 1, max: 1_000 }),
      max_tokens: fc.integer({ min: 1, max: 10_000_000 }),
      max_cost_usd: fc.double({ min: 0.01, max: 1_000, noNaN: true }),
      warn_ratio: fc.double({ min: 0.01, max: 1, noNaN: true }),
    });
    const limits = fc.record(
      {
        max_llm_calls: fc.nat(2_000),
        max_tool_calls: fc.nat(2_000),
        max_tokens: fc.nat(20_000_000),
        max_cost_usd: fc.double({ min: 0, max: 2_000, noNaN: true }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(caps, limits, (stepCap, lim) => {
        const eff = effectiveCaps({ step_cap: stepCap }, lim);
        for (const key of ['max_llm_calls', 'max_tool_calls', 'max_tokens', 'max_cost_usd'] as const) {
          expect(eff[key]).toBeLessThanOrEqual(stepCap[key]);
          const limit = lim[key];
          if (limit === undefined) expect(eff[key]).toBe(stepCap[key]);
          else expect(eff[key]).toBe(Math.min(limit, stepCap[key]));
        }
        expect(eff.warn_ratio).toBe(stepCap.warn_ratio);
        // Applying the limits again changes nothing: tightening is idempotent.
        expect(effectiveCaps({ step_cap: { ...stepCap, ...eff } }, lim)).toEqual(eff);
      }),
    );
  });

  it('works on a loaded policy: an agent’s caps stay the ceiling for its runs', () => {
    const p: Policy = parsePolicy({ agents: { bot: { step_cap: { max_llm_calls: 10 } } } });
    expect(effectiveCaps(resolvePolicy(p, 'bot'), { max_llm_calls: 50 }).max_llm_calls).toBe(10);
    expect(effectiveCaps(resolvePolicy(p, 'bot'), { max_llm_calls: 4 }).max_llm_calls).toBe(4);
  });
});
