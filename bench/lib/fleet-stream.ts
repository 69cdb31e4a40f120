import { simulateFleet } from '../../src/sim/fleet.ts';

export interface FleetStreamOptions {
  /** Unique per bench run and level, so no run or event id repeats across runs. */
  prefix: string;
  seed: number;
  /** Share of runaway runs (tool loops, step-cap overruns, token spikes); simulate's default is 0.05. */
  runawayShare: number;
  /** Runs per simulated fleet before it repeats with fresh ids (default 5,000, ~50k events). */
  runsPerCycle?: number;
}

/** One background event, ready to send. */
export interface FleetMessage {
  key: string;
  value: string;
}

const TAG = '__TAG__';
const TS = 1_111_111_111_111;
const HOLES = new RegExp(`(${TAG}|${TS})`);

/**
 * An endless stream of realistic background events: a simulated fleet (runs interleaved in
 * event-time order, ~10 events a run, 5 % runaways) replayed over and over, each cycle with fresh
 * run and event ids, every event stamped with the wall clock when it is taken. The JSON is made
 * once per template event and only the ids and `ts` are spliced in, so that the fleet process
 * spends its CPU on Kafka, not on JSON.stringify (on 2 cores it competes with the warden).
 */
export function createFleetStream(options: FleetStreamOptions): { next(nowMs: number): FleetMessage } {
  const { events } = simulateFleet({ runs: options.runsPerCycle ?? 5_000, seed: options.seed, runGapMs: 10, runawayShare: options.runawayShare });
  const templates = events.map((e) => ({
    runId: e.run_id,
    // Split around the holes: even parts are literal JSON, odd parts name the hole.
    parts: JSON.stringify({ ...e, run_id: `${TAG}-${e.run_id}`, event_id: `${TAG}-${e.event_id}`, ts: TS }).split(HOLES),
  }));
  let cycle = 0;
  let i = 0;
  return {
    next(nowMs) {
      if (i === templates.length) {
        i = 0;
        cycle++;
      }
      const t = templates[i++] as (typeof templates)[number];
      const tag = `${options.prefix}-${cycle}`;
      let value = '';
      for (let k = 0; k < t.parts.length; k++) {
        const part = t.parts[k] as string;
        value += k % 2 === 0 ? part : part === TAG ? tag : String(nowMs);
      }
      return { key: `${tag}-${t.runId}`, value };
    },
  };
}
