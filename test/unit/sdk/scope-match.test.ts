import { describe, expect, it } from 'vitest';
import { COHORTS_DEFAULTS } from '../../../src/policy/cohorts-policy.ts';
import { cohortId, scopeMatches, type StepContext } from '../../../src/sdk/scope-match.ts';
import { createGuardState } from '../../../src/sdk/guard-state.ts';
import { cohortOf } from '../../../src/windows/cohort-key.ts';
import { eventMaker } from '../detectors/make-events.ts';
import { cmd, T0 } from './commands.ts';

const step: StepContext = { runId: 'r1', agentId: 'bot', tenantId: 'acme', userId: 'u1', model: 'gpt-4o', attrs: { model_version: 'v2', plan_tier: 'free' } };

describe('cohort scopes at the guard', () => {
  it.each<[string, string, StepContext, boolean]>([
    ['a spend cohort (tenant × agent × user × model)', 'agent_id=bot,model=gpt-4o,tenant_id=acme,user_id=u1', step, true],
    ['… for a step on another model', 'agent_id=bot,model=gpt-4o,tenant_id=acme,user_id=u1', { ...step, model: 'gpt-4o-mini' }, false],
    ['… for a step that names no model', 'agent_id=bot,model=gpt-4o,tenant_id=acme,user_id=u1', { runId: 'r1', agentId: 'bot', tenantId: 'acme', userId: 'u1' }, false],
    ['model given as an attribute instead', 'model=gpt-4o,user_id=u1', { runId: 'r1', userId: 'u1', attrs: { model: 'gpt-4o' } }, true],
    ['`model` wins over attrs.model', 'model=gpt-4o', { runId: 'r1', model: 'gpt-4o', attrs: { model: 'other' } }, true],
    ['a judge cohort (agent × version)', 'agent_id=bot,model_version=v2,prompt_hash=(none)', step, true],
    ['… a missing attribute is "(none)" on both sides', 'agent_id=bot,region=(none)', step, true],
    ['… but does not match a real value', 'agent_id=bot,region=eu', step, false],
    ['a user cohort (tenant × user)', 'tenant_id=acme,user_id=u1', step, true],
    ['… of another tenant', 'tenant_id=globex,user_id=u1', step, false],
  ])('%s', (_name, id, ctx, matches) => {
    expect(scopeMatches({ kind: 'cohort', id }, ctx)).toBe(matches);
  });

  it('the id the warden builds from an llm_call event matches the step the guard sees for it', () => {
    const e = eventMaker('r1', 'bot').llm(100, 50, { model: 'gpt-4o' });
    const id = cohortId(cohortOf(e, COHORTS_DEFAULTS.spend));
    const ctx: StepContext = { runId: 'r1', agentId: 'bot', tenantId: e.tenant_id, userId: e.user_id, model: 'gpt-4o' };
    expect(scopeMatches({ kind: 'cohort', id }, ctx)).toBe(true);
    expect(scopeMatches({ kind: 'cohort', id }, { ...ctx, tenantId: 'globex' })).toBe(false);
  });

  it('a cohort throttle on a model holds back only that model’s LLM calls', () => {
    const state = createGuardState();
    const scope = { kind: 'cohort' as const, id: 'model=gpt-4o,user_id=u1' };
    state.apply(cmd('throttle', scope, { throttle: { delay_ms: 500 }, expiresAt: T0 + 60_000 }), T0);
    expect(state.decide(step, T0)).toMatchObject({ kind: 'delay', delayMs: 500 });
    expect(state.decide({ ...step, model: 'claude-sonnet-4' }, T0).kind).toBe('allow');
    expect(state.decide(step, T0 + 60_000).kind).toBe('allow'); // expired
  });
});
