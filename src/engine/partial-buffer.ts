import { mergeInto, partialStateKey, type CohortPartial } from '../windows/cohort-partial.ts';

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
  /**
   * Keys whose partial is the buffer's own copy, merged into in place (mergeInto: no cohort id
   * and no new lists per merge, the hot path of the per-run stage). A partial handed to add() is
   * the caller's, so it is copied before the first merge, never changed.
   */
  let owned = new Set<string>();
  return {
    add(partial, stateKey = partialStateKey(partial)) {
      const key = `${stateKey}@${partial.minute}`;
      let had = pending.get(key);
      if (had === undefined) {
        pending.set(key, partial);
        return;
      }
      if (!owned.has(key)) {
        had = { ...had, top_runs: had.top_runs.map((r) => ({ ...r })) };
        pending.set(key, had);
        owned.add(key);
      }
      mergeInto(had, partial);
    },
    drain() {
      if (pending.size === 0) return [];
      const out = [...pending.values()];
      pending = new Map();
      owned = new Set();
      return out;
    },
    get size() {
      return pending.size;
    },
  };
}
