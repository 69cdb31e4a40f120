import { describe, expect, it } from 'vitest';
import type { SpanEventInput } from '../../../src/contracts/span.ts';
import type { KeyRing } from '../../../src/control/sign.ts';
import { createEmbeddedEngine } from '../../../src/engine/embedded-engine.ts';
import type { Emission } from '../../../src/engine/emission.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../../src/policy/policy.ts';
import { cohortKey } from '../../../src/windows/cohort-key.ts';
import { firstCallCohort, FLEET_T0, parseAll, quietFleet, withCostSpike, withVersionChange } from '../../support/cohort-fleet.ts';

const keyRing: KeyRing = { activeKeyId: 'replay', keys: { replay: 'runwarden-replay-public-key' } };
const isCohort = (e: Emission) => e.finding.detector === 'cost-spike' || e.finding.detector === 'judge-drift';

/** What `runwarden replay` emits for these events, in order. */
function replay(events: readonly SpanEventInput[], policy: Policy = DEFAULT_POLICY): Emission[] {
  const engine = createEmbeddedEngine({ policy, keyRing });
  return parseAll(events).flatMap((e) => engine.apply(e));
}

/** 40 minutes of a quiet fleet (1,200 runs, ~13k events). */
const FLEET = quietFleet(1_200, 7);

// Whole simulated fleets through the engine: seconds each on a loaded 2-core machine, not 5.
describe('replay runs the cohort detectors (SPEC §7)', { timeout: 60_000 }, () => {
  it('a quiet fleet: no cohort finding at all', () => {
    const out = replay(FLEET);
    expect(out.filter(isCohort)).toEqual([]);
  });

  it('an injected cost spike → a cost-spike throttle of the spender’s cohort, in its minute', () => {
    const out = replay(withCostSpike(FLEET, 25));
    const who = firstCallCohort(FLEET);
    const spend = out.filter((e) => e.finding.detector === 'cost-spike' && e.finding.rule === 'spend_spike');
    expect(spend).toHaveLength(1);
    const { finding, command } = spend[0]!;
    const cohort = { tenant_id: who.tenant_id, agent_id: who.agent_id, user_id: who.user_id, model: who.model };
    expect(finding.cohort).toEqual(cohort);
    expect(Math.floor((finding.ts - FLEET_T0) / 60_000)).toBe(25); // mid-minute, not when the minute closes
    expect(command).toMatchObject({ action: 'throttle', scope: { kind: 'cohort', id: cohortKey(cohort) }, expires_at: finding.ts + 900_000 });
    expect(command?.throttle?.max_llm_calls_per_minute).toBeGreaterThan(0);
    // The same user's call rate fires too (a user cohort), and nothing fires elsewhere.
    expect(out.filter(isCohort).every((e) => e.finding.cohort?.['user_id'] === who.user_id)).toBe(true);
  });

  it('a judge drop after a model_version change → a judge-drift finding (no command); the same change without a drop → none', () => {
    const drop = replay(withVersionChange(FLEET, 15, 0.15)).filter(isCohort);
    expect(drop.length).toBeGreaterThan(0);
    expect(drop.every((e) => e.finding.detector === 'judge-drift' && e.finding.rule === 'version_drop' && e.command === undefined)).toBe(true);
    expect(drop.every((e) => e.finding.cohort?.['model_version'] === 'v2' && e.finding.details?.['predecessor'] === 'model_version=v1,prompt_hash=p1')).toBe(true);
    expect(replay(withVersionChange(FLEET, 15, 0)).filter(isCohort)).toEqual([]);
  });

  it('with a canary throttle in the policy the version drop throttles the new version’s cohort', () => {
    const policy = parsePolicy({ defaults: { judge_drift: { canary_throttle: true } } });
    const out = replay(withVersionChange(FLEET, 15, 0.15), policy).filter(isCohort);
    expect(out.length).toBeGreaterThan(0);
    for (const e of out) expect(e.command).toMatchObject({ action: 'throttle', scope: { kind: 'cohort', id: e.finding.scope.id } });
  });

  it('is deterministic: the same input gives byte-identical emissions', () => {
    const events = withCostSpike(withVersionChange(FLEET.slice(0, 8_000), 10, 0.2), 20);
    expect(JSON.stringify(replay(events))).toBe(JSON.stringify(replay(events)));
  });
});
