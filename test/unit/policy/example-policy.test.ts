import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { COST_SPIKE_DEFAULTS } from '../../../detectors/cost-spike.ts';
import { JUDGE_DRIFT_DEFAULTS } from '../../../detectors/judge-drift.ts';
import { COHORTS_DEFAULTS } from '../../../src/policy/cohorts-policy.ts';
import { loadPolicy } from '../../../src/policy/policy.ts';
import { resolvePolicy } from '../../../src/policy/resolve-policy.ts';

describe('examples/policy.yaml (the README points users at it)', () => {
  it('is valid and means what its comments say', async () => {
    const text = await readFile(new URL('../../../examples/policy.yaml', import.meta.url), 'utf8');
    const policy = loadPolicy(text, 'yaml', 'examples/policy.yaml');
    expect(resolvePolicy(policy, 'support-bot').step_cap.max_llm_calls).toBe(20);
    expect(resolvePolicy(policy, 'support-bot').step_cap.max_tool_calls).toBe(100);
    expect(resolvePolicy(policy, 'research-agent').tool_loop.max_differing_consecutive_abort).toBe(40);
    expect(resolvePolicy(policy, 'anyone-else').commands.ttl.abort).toBe(3_600_000);
    expect(policy.runs.idle_timeout).toBe(1_800_000);
    expect(policy.pricing['my-finetune-v3']?.output_usd_per_mtok).toBe(12);
    expect(policy.pricing['gpt-4o']).toBeDefined();
    // The defaults it lists are the built-in ones; the overrides change only what they name.
    expect(policy.defaults.cost_spike).toEqual(COST_SPIKE_DEFAULTS);
    expect(policy.defaults.judge_drift).toEqual(JUDGE_DRIFT_DEFAULTS);
    expect(resolvePolicy(policy, 'research-agent').cost_spike).toEqual({ ...COST_SPIKE_DEFAULTS, min_spend_usd_per_minute: 5 });
    expect(resolvePolicy(policy, 'research-agent').judge_drift).toEqual({ ...JUDGE_DRIFT_DEFAULTS, canary_throttle: true, canary_max_llm_calls_per_minute: 5 });
    expect(policy.cohorts).toEqual({ ...COHORTS_DEFAULTS, segments: ['plan_tier', 'region'] });
  });
});
