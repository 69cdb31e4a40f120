import { describe, expect, it } from 'vitest';
import { findingSchema } from '../../../src/contracts/finding.ts';
import { controlCommandSchema } from '../../../src/contracts/control.ts';
import { commandId } from '../../../src/control/command-id.ts';
import { verifyCommand, type KeyRing } from '../../../src/control/sign.ts';
import { createCohortStage, type CohortStage } from '../../../src/engine/cohort-stage.ts';
import type { Emission } from '../../../src/engine/emission.ts';
import { partialRoutingKey } from '../../../src/engine/partial-routing.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../../src/policy/policy.ts';
import { cohortKey } from '../../../src/windows/cohort-key.ts';
import { emptyPartial, MINUTE_MS, partialStateKey, type CohortPartial } from '../../../src/windows/cohort-partial.ts';
import { draws, judgePartial, spendPartials, T0 } from '../windows/cohort-sim.ts';

const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'cohort-stage-test-secret-0123' } };
const HOUR = 60 * MINUTE_MS;
const SPEND = { tenant_id: 't1', agent_id: 'bot', user_id: 'u1', model: 'gpt-4o' };
const V1 = { agent_id: 'bot', model_version: 'v1', prompt_hash: 'p1' };
const V2 = { agent_id: 'bot', model_version: 'v2', prompt_hash: 'p1' };

/** A 10× spend spike at minute 120 of a steady cohort (the detector's own test fleet). */
const spiking = (cohort: Record<string, string> = SPEND, seed = 1) =>
  spendPartials({ seed, minutes: 125, runsPerMinute: 3, callsPerRun: 1, costPerCall: 0.3, multiplier: (m) => (m >= 120 ? 10 : 1), cohort });

/** Judge scores of V1 for 10 hours, then V2 a clear `drop` lower for 5 hours; 12 scores per half hour. */
function versionChange(drop: number, seed = 1): CohortPartial[] {
  const d = draws(seed);
  const scores = (mean: number) => Array.from({ length: 12 }, () => Math.min(1, Math.max(0, mean + 0.08 * d.normal())));
  const out: CohortPartial[] = [];
  for (let h = 0; h < 30; h++) out.push(judgePartial(h < 20 ? V1 : V2, T0 + h * (HOUR / 2) + 60_000, scores(h < 20 ? 0.8 : 0.8 - drop)));
  return out;
}

const run = (stage: CohortStage, partials: readonly CohortPartial[]): Emission[] => partials.flatMap((p) => stage.apply(p));
const stageOf = (policy: Policy = DEFAULT_POLICY) => createCohortStage({ policy, keyRing });

describe('cohort stage: cost-spike', () => {
  it('a spend spike → a signed throttle of the cohort, expiring after the policy ttl, limits from the finding', () => {
    const out = run(stageOf(), spiking());
    const spikes = out.filter((e) => e.finding.rule === 'spend_spike');
    expect(spikes).toHaveLength(1);
    const { finding, command } = spikes[0]!;
    expect(findingSchema.safeParse(finding).success).toBe(true);
    expect(finding.scope).toEqual({ kind: 'cohort', id: cohortKey(SPEND) });
    expect(command).toBeDefined();
    expect(controlCommandSchema.safeParse(command).success).toBe(true);
    expect(command).toMatchObject({
      action: 'throttle',
      scope: { kind: 'cohort', id: 'agent_id=bot,model=gpt-4o,tenant_id=t1,user_id=u1' },
      issued_at: finding.ts,
      expires_at: finding.ts + DEFAULT_POLICY.defaults.commands.ttl.throttle,
      throttle: finding.details?.['throttle'],
      command_id: commandId(finding.finding_id, 'throttle'),
      reason: { detector: 'cost-spike', rule: 'spend_spike', finding_id: finding.finding_id },
    });
    expect(verifyCommand(command, keyRing, finding.ts).ok).toBe(true);
  });

  it('params and ttls are the cohort agent’s: disabled for one agent, stricter ttl for another', () => {
    const policy = parsePolicy({ agents: { quiet: { cost_spike: { enabled: false } }, strict: { commands: { ttl: { throttle: '2m' } } } } });
    const stage = stageOf(policy);
    expect(run(stage, spiking({ ...SPEND, agent_id: 'quiet' }))).toEqual([]);
    expect(stage.size).toBe(0);
    const strict = run(stage, spiking({ ...SPEND, agent_id: 'strict' })).find((e) => e.finding.rule === 'spend_spike');
    expect(strict?.command?.expires_at).toBe(strict!.finding.ts + 120_000);
  });

  it('cohorts are independent: a spike in one throttles only that one', () => {
    const other = { ...SPEND, user_id: 'u2' };
    const calm = spendPartials({ seed: 9, minutes: 125, runsPerMinute: 3, callsPerRun: 1, costPerCall: 0.3, cohort: other });
    const merged = [...spiking(), ...calm].sort((a, b) => a.last_ts - b.last_ts);
    const out = run(stageOf(), merged);
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((e) => e.finding.scope.id === cohortKey(SPEND))).toBe(true);
  });
});

describe('cohort stage: judge-drift', () => {
  it('a drop after a model_version change → a finding with no command (not even a warn)', () => {
    const out = run(stageOf(), versionChange(0.15));
    const drops = out.filter((e) => e.finding.rule === 'version_drop');
    expect(drops).toHaveLength(1);
    expect(drops[0]!.finding).toMatchObject({ detector: 'judge-drift', scope: { kind: 'cohort', id: cohortKey(V2) }, cohort: V2 });
    expect(out.every((e) => e.command === undefined)).toBe(true);
  });

  it('the same change without a drop → nothing', () => {
    expect(run(stageOf(), versionChange(0))).toEqual([]);
  });

  it('with the canary throttle configured → a throttle of the new version’s cohort', () => {
    const policy = parsePolicy({ agents: { bot: { judge_drift: { canary_throttle: true, canary_max_llm_calls_per_minute: 4 } } } });
    const out = run(stageOf(policy), versionChange(0.15));
    const drop = out.find((e) => e.finding.rule === 'version_drop');
    expect(drop?.command).toMatchObject({ action: 'throttle', scope: { kind: 'cohort', id: cohortKey(V2) }, throttle: { max_llm_calls_per_minute: 4 } });
  });

  it('every version of a lineage has one routing key (and one state); other views route by their cohort', () => {
    expect(partialRoutingKey(judgePartial(V1, T0, [0.5]), DEFAULT_POLICY)).toBe(partialRoutingKey(judgePartial(V2, T0, [0.5]), DEFAULT_POLICY));
    expect(partialRoutingKey(judgePartial(V1, T0, [0.5]), DEFAULT_POLICY)).toBe('judge|agent_id=bot');
    const segmented = { ...V1, plan_tier: 'free' };
    expect(partialRoutingKey(judgePartial(segmented, T0, [0.5]), DEFAULT_POLICY)).toBe('judge|agent_id=bot,plan_tier=free');
    // An agent versioned by model_version only keeps prompt_hash in its lineage.
    const policy = parsePolicy({ agents: { bot: { judge_drift: { version_dims: ['model_version'] } } } });
    expect(partialRoutingKey(judgePartial(V1, T0, [0.5]), policy)).toBe('judge|agent_id=bot,prompt_hash=p1');
    const spend = emptyPartial('spend', SPEND, T0);
    expect(partialRoutingKey(spend, DEFAULT_POLICY)).toBe(partialStateKey(spend));
    const stage = stageOf();
    run(stage, versionChange(0));
    expect(stage.size).toBe(1);
  });
});

describe('cohort stage: state', () => {
  it('drops states idle for longer than their windows, and keeps the busy ones', () => {
    const stage = stageOf();
    const at = (cohort: Record<string, string>, minute: number) => {
      const p = emptyPartial('spend', cohort, T0 + minute * MINUTE_MS);
      p.llm_calls = 1;
      p.spend_usd = 0.1;
      return p;
    };
    stage.apply(at({ ...SPEND, user_id: 'gone' }, 0));
    for (let m = 0; m <= 60; m++) stage.apply(at(SPEND, m));
    expect(stage.size).toBe(2);
    stage.apply(at(SPEND, 61)); // 61 minutes after its last partial: past the 60-minute baseline
    expect(stage.size).toBe(1);
    expect(stage.evicted).toBe(1);
    expect(stage.snapshot().cost_spike.map((s) => s.cohort)).toEqual([SPEND]);
  });

  it('snapshot → JSON → restore → continue emits exactly what never stopping emits', () => {
    const partials = [...spiking(), ...spiking({ ...SPEND, user_id: 'u2' }, 2), ...versionChange(0.15).map((p) => ({ ...p }))].sort((a, b) => a.last_ts - b.last_ts);
    const whole = run(stageOf(), partials);
    expect(whole.filter((e) => e.finding.detector === 'cost-spike').length).toBeGreaterThanOrEqual(2);
    expect(whole.some((e) => e.finding.detector === 'judge-drift')).toBe(true);
    for (const cut of [1, Math.floor(partials.length / 3), partials.length - 40]) {
      const first = stageOf();
      const before = run(first, partials.slice(0, cut));
      const checkpoint = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
      const second = stageOf();
      second.restore(checkpoint);
      const after = run(second, partials.slice(cut));
      expect(JSON.stringify([...before, ...after])).toBe(JSON.stringify(whole));
      // The stage that was checkpointed goes on unaffected by the copy.
      expect(JSON.stringify([...before, ...run(first, partials.slice(cut))])).toBe(JSON.stringify(whole));
    }
  });

  it('restore refuses what is not a snapshot', () => {
    expect(() => stageOf().restore({ schema: 'runwarden.cohort-stage/v0', minute: 1, cost_spike: [], judge_drift: [] })).toThrow(TypeError);
    expect(() => stageOf().restore(null)).toThrow(/runwarden.cohort-stage\/v1/);
  });

  it('is deterministic: the same partials give byte-identical emissions', () => {
    const partials = [...spiking(), ...versionChange(0.2)].sort((a, b) => a.last_ts - b.last_ts);
    expect(JSON.stringify(run(stageOf(), partials))).toBe(JSON.stringify(run(stageOf(), partials)));
  });
});
