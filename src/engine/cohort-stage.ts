import { z } from 'zod';
import { costSpike, costSpikeStateIdle, initialCostSpikeState, type CostSpikeState } from '../../detectors/cost-spike.ts';
import { initialJudgeDriftState, judgeDrift, judgeDriftStateIdle, judgeLineage, type JudgeDriftState } from '../../detectors/judge-drift.ts';
import type { KeyRing } from '../control/sign.ts';
import type { Policy } from '../policy/policy.ts';
import { partialStateKey, type CohortPartial } from '../windows/cohort-partial.ts';
import { emissionOf, type Emission } from './emission.ts';
import { cohortPolicy, judgeStateKey } from './partial-routing.ts';

export interface CohortStageOptions {
  policy: Policy;
  keyRing: KeyRing;
}

/** Version of the cohort stage's checkpoint. */
export const COHORT_SNAPSHOT_VERSION = 'runwarden.cohort-stage/v1';

/**
 * The cohort stage's state as plain JSON (for a checkpoint): detector states in the order they
 * were created, which is the order restore() gives them back.
 */
export interface CohortStageSnapshot {
  schema: typeof COHORT_SNAPSHOT_VERSION;
  /** Newest event-time minute applied; null before the first partial. */
  minute: number | null;
  cost_spike: CostSpikeState[];
  judge_drift: JudgeDriftState[];
}

/** Shape check of a checkpoint read back (the states themselves are our own output). */
const snapshotSchema = z.object({
  schema: z.literal(COHORT_SNAPSHOT_VERSION),
  minute: z.number().int().nullable(),
  cost_spike: z.array(z.looseObject({ view: z.string(), cohort: z.record(z.string(), z.string()) })),
  judge_drift: z.array(z.looseObject({ lineage: z.record(z.string(), z.string()) })),
});

export interface CohortStage {
  /**
   * Folds one partial into its state: cost-spike per (view, cohort), judge-drift per lineage,
   * params of the cohort's agent. Returns each finding with the signed command it calls for.
   */
  apply(partial: CohortPartial): Emission[];
  snapshot(): CohortStageSnapshot;
  /** Replaces every state with a snapshot's; throws a TypeError when it is not one. */
  restore(snapshot: unknown): void;
  /** Live detector states. */
  readonly size: number;
  /** States dropped as idle so far. */
  readonly evicted: number;
}

/**
 * The cohort stage (SPEC §3.3–§3.4, §4), free of I/O like the per-run stage: partials in (from
 * any number of per-run stages, in any split), findings and signed commands out. Event time only:
 * the stage's clock is the newest partial minute, and each time it moves on, states idle for
 * longer than every window they keep are dropped (they would add nothing to a new partial).
 * Deterministic, so replay and the pipeline emit the same bytes.
 */
export function createCohortStage(options: CohortStageOptions): CohortStage {
  const { policy, keyRing } = options;
  let costStates = new Map<string, CostSpikeState>();
  let judgeStates = new Map<string, JudgeDriftState>();
  let minute: number | null = null;
  let evicted = 0;

  function sweep(now: number): void {
    for (const [key, s] of costStates) {
      if (costSpikeStateIdle(s, now, cohortPolicy(policy, s.cohort).cost_spike)) {
        costStates.delete(key);
        evicted++;
      }
    }
    for (const [key, s] of judgeStates) {
      if (judgeDriftStateIdle(s, now, cohortPolicy(policy, s.lineage).judge_drift)) {
        judgeStates.delete(key);
        evicted++;
      }
    }
  }

  function apply(partial: CohortPartial): Emission[] {
    if (minute === null || partial.minute > minute) {
      if (minute !== null) sweep(partial.minute);
      minute = partial.minute;
    }
    const agent = cohortPolicy(policy, partial.cohort);
    if (partial.view === 'judge') {
      const params = agent.judge_drift;
      if (!params.enabled) return [];
      const lineage = judgeLineage(partial.cohort, params);
      const key = judgeStateKey(lineage);
      const r = judgeDrift(judgeStates.get(key) ?? initialJudgeDriftState(lineage), partial, { params, now: partial.last_ts });
      judgeStates.set(key, r.state);
      return r.findings.map((f) => emissionOf(f, agent, keyRing));
    }
    const params = agent.cost_spike;
    if (!params.enabled) return [];
    const key = partialStateKey(partial);
    const r = costSpike(costStates.get(key) ?? initialCostSpikeState(partial.view, partial.cohort, params), partial, { params, now: partial.last_ts });
    costStates.set(key, r.state);
    return r.findings.map((f) => emissionOf(f, agent, keyRing));
  }

  return {
    apply,
    snapshot: () => ({
      schema: COHORT_SNAPSHOT_VERSION,
      minute,
      cost_spike: structuredClone([...costStates.values()]),
      judge_drift: structuredClone([...judgeStates.values()]),
    }),
    restore(snapshot) {
      const parsed = snapshotSchema.safeParse(snapshot);
      if (!parsed.success) throw new TypeError(`not a ${COHORT_SNAPSHOT_VERSION} snapshot: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const s = snapshot as CohortStageSnapshot;
      // Copies: the stage replaces its states as it goes, the checkpoint must stay as it was.
      costStates = new Map(structuredClone(s.cost_spike).map((c) => [partialStateKey(c), c]));
      judgeStates = new Map(structuredClone(s.judge_drift).map((j) => [judgeStateKey(j.lineage), j]));
      minute = s.minute;
    },
    get size() {
      return costStates.size + judgeStates.size;
    },
    get evicted() {
      return evicted;
    },
  };
}
