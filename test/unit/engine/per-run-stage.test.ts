import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../../src/contracts/span.ts';
import { verifyCommand, type KeyRing } from '../../../src/control/sign.ts';
import { createPerRunStage } from '../../../src/engine/per-run-stage.ts';
import { DEFAULT_POLICY } from '../../../src/policy/policy.ts';
import { eventMaker } from '../detectors/make-events.ts';

const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'stage-test-secret-0123456789' } };

/** A run that calls the same tool with the same args 8 times: an abort on the 6th. */
function loopingRun(runId: string): SpanEvent[] {
  const e = eventMaker(runId);
  return [e.runStart(), ...Array.from({ length: 8 }, () => e.tool('search', 'h1')), e.runEnd()];
}

describe('per-run stage', () => {
  it('emits each finding with its signed command, in the order they arise', () => {
    const stage = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
    const out = loopingRun('r1').flatMap((event) => stage.apply(event));
    const abort = out.find((e) => e.command?.action === 'abort');
    expect(abort?.finding.detector).toBe('tool-loop');
    expect(abort?.command?.reason.finding_id).toBe(abort?.finding.finding_id);
    expect(abort?.command?.issued_at).toBe(abort?.finding.ts);
    const verified = verifyCommand(abort?.command, keyRing, abort?.finding.ts ?? 0);
    expect(verified.ok).toBe(true);
  });

  it('a duplicate event_id changes nothing', () => {
    const once = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
    const twice = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
    const events = loopingRun('r1');
    const a = events.flatMap((e) => once.apply(e));
    const b = events.flatMap((e) => [...twice.apply(e), ...twice.apply(e)]);
    expect(b).toEqual(a);
    expect(twice.duplicates).toBe(events.length);
  });

  it('is deterministic: the same input gives byte-identical output', () => {
    const run = () => {
      const stage = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
      return JSON.stringify([...loopingRun('r1'), ...loopingRun('r2')].flatMap((e) => stage.apply(e)));
    };
    expect(run()).toBe(run());
  });

  it('runs are independent: a clean run interleaved with a looping one gets nothing', () => {
    const stage = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
    const clean = eventMaker('clean');
    const cleanEvents = [clean.runStart(), clean.tool('a', '1'), clean.tool('b', '2'), clean.llm(), clean.runEnd()];
    const loop = loopingRun('loop');
    const out = loop.flatMap((event, i) => [...stage.apply(event), ...(cleanEvents[i] ? stage.apply(cleanEvents[i]) : [])]);
    expect(out.every((e) => e.finding.scope.id === 'loop')).toBe(true);
  });
});
