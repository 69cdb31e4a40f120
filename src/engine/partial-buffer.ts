import { mergePartials, partialStateKey, type CohortPartial } from '../windows/cohort-partial.ts';

/** Cohort partials coalesced per (view, cohort, minute) until the caller drains them. */
export interface PartialBuffer {
  /** `stateKey` = partialStateKey(partial), when the caller has it already. */
  add(partial: CohortPartial, stateKey?: string): void;
  /** Every coalesced partial since the last drain, in the order their keys were first added; empties the buffer. */
  drain(): CohortPartial[];
  /** Distinct (view, cohort, minute) keys waiting. */
  readonly size: number;
}

/**
 * The buffer between the per-run stage and the cohort stage. Partials are deltas, so merging the
 * ones of one key loses nothing: draining after every event (replay) or every second (the
 * pipeline) only changes how many partials travel, not what the cohort stage ends up with.
 */
export function createPartialBuffer(): PartialBuffer {
  let pending = new Map<string, CohortPartial>();
  return {
    add(partial, stateKey = partialStateKey(partial)) {
      const key = `${stateKey}@${partial.minute}`;
      const had = pending.get(key);
      pending.set(key, had === undefined ? partial : mergePartials(had, partial));
    },
    drain() {
      if (pending.size === 0) return [];
      const out = [...pending.values()];
      pending = new Map();
      return out;
    },
    get size() {
      return pending.size;
    },
  };
}
