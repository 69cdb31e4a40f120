import type { SpanEventInput } from '../contracts/span.ts';
import { simulateCohortFleet } from '../sim/cohort-fleet.ts';
import type { Incident } from '../sim/ground-truth.ts';
import { simulateFleet, type RunBehaviour } from '../sim/fleet.ts';

export interface DemoFleetOptions {
  seed: number;
  /** Event time the fleet ends at (epoch ms); the demo uses "now" so every event is recent and none is in the future. */
  endMs: number;
  /** Event time the cohort fleet covers (ms); judge drift needs ≥ 6 h of it. */
  durationMs: number;
  /** Spend cohorts of the cohort fleet (tenant × agent × user × model). */
  cohorts: number;
  /** Runs of the runaway fleet (tool loops, step-cap breaches, token spikes). */
  runs: number;
  /** Share of the runaway fleet's runs that misbehave. */
  runawayShare: number;
}

/** What was injected, for the summary ("caught N of N") and for the demo's test. */
export interface DemoTruth {
  /** Run ids of the runaway fleet by what they were made to do (normal runs left out). */
  runaways: Record<Exclude<RunBehaviour, 'normal'>, string[]>;
  /** The cohort fleet's incidents (spend spikes, sustained rises, LLM-rate bursts, judge drops). */
  incidents: Incident[];
  /**
   * Runs that must end with an abort: the runaway fleet's tool loops and step-cap breaches, and
   * the runaway run behind each spend spike (it calls the LLM about once a second: past the step cap).
   */
  abortedRuns: string[];
  startMs: number;
  endMs: number;
}

export interface DemoFleet {
  truth: DemoTruth;
  /** Every event of both fleets in event-time order; each call starts over and yields the same events. */
  events(): Generator<SpanEventInput>;
}

/**
 * The demo's fleet: the cohort fleet (many cohorts over hours: spend spikes, call-rate bursts,
 * judge drops at new versions) with the runaway fleet (single runs looping on a tool or blowing
 * through the step cap) running during its last stretch. Deterministic for a given seed and end.
 */
export function createDemoFleet(options: DemoFleetOptions): DemoFleet {
  const startMs = options.endMs - options.durationMs;
  const cohortFleet = simulateCohortFleet({ seed: options.seed, startMs, durationMs: options.durationMs, cohorts: options.cohorts });
  // 2 s between run starts (the runaway fleet's default), ending a few minutes before the cohort fleet does.
  const runawayStart = Math.max(startMs, options.endMs - options.runs * 2_000 - 5 * 60_000);
  const runawayFleet = simulateFleet({ seed: options.seed, runs: options.runs, startMs: runawayStart, runawayShare: options.runawayShare });
  const runaways: DemoTruth['runaways'] = { tool_loop: [], step_cap: [], token_spike: [] };
  for (const r of runawayFleet.runs) if (r.behaviour !== 'normal') runaways[r.behaviour].push(r.runId);
  const incidents = cohortFleet.truth.incidents;
  const spikeRuns = incidents.flatMap((i) => (i.kind === 'spend_spike' && typeof i.details['runaway_run_id'] === 'string' ? [i.details['runaway_run_id']] : []));
  return {
    truth: {
      runaways,
      incidents,
      abortedRuns: [...runaways.tool_loop, ...runaways.step_cap, ...spikeRuns].sort(),
      startMs,
      endMs: options.endMs,
    },
    events: () => mergeByTs(cohortFleet.events(), runawayFleet.events[Symbol.iterator]()),
  };
}

/** Two event-time-ordered streams as one (ties: the first stream first). */
function* mergeByTs(a: Iterator<SpanEventInput>, b: Iterator<SpanEventInput>): Generator<SpanEventInput> {
  let x = a.next();
  let y = b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && (x.value.ts as number) <= (y.value.ts as number))) {
      yield x.value as SpanEventInput;
      x = a.next();
    } else {
      yield y.value;
      y = b.next();
    }
  }
}
