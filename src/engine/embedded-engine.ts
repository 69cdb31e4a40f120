import type { SpanEvent } from '../contracts/span.ts';
import type { KeyRing } from '../control/sign.ts';
import type { Policy } from '../policy/policy.ts';
import { createCohortStage, type CohortStage } from './cohort-stage.ts';
import type { Emission } from './emission.ts';
import { createPerRunStage, type PerRunStage } from './per-run-stage.ts';

export interface EmbeddedEngineOptions {
  policy: Policy;
  keyRing: KeyRing;
}

export interface EmbeddedEngine {
  /** One validated event through every detector: its per-run emissions, then the cohort ones it caused. */
  apply(event: SpanEvent): Emission[];
  readonly perRun: PerRunStage;
  readonly cohort: CohortStage;
  /** Partials handed from the per-run stage to the cohort stage so far. */
  readonly partials: number;
}

/**
 * Every stage in one process with no Kafka (SPEC §7, `runwarden replay`): the per-run stage, its
 * partials drained after every event (so a cohort sees a spike mid-minute, and the output does
 * not depend on any batching), and the cohort stage. Emissions come out in the order they arise.
 */
export function createEmbeddedEngine(options: EmbeddedEngineOptions): EmbeddedEngine {
  const perRun = createPerRunStage({ ...options, partials: true });
  const cohort = createCohortStage(options);
  let partials = 0;
  return {
    apply(event) {
      const out = perRun.apply(event);
      for (const partial of perRun.drainPartials()) {
        partials++;
        out.push(...cohort.apply(partial));
      }
      return out;
    },
    perRun,
    cohort,
    get partials() {
      return partials;
    },
  };
}
