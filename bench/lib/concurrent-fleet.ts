import { createWriteStream, existsSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';

export interface ConcurrentFleetOptions {
  /** Events in the stream. */
  events: number;
  /** Runs open at once once the stream is under way (each slot holds one run at a time). */
  concurrency: number;
  seed: number;
  /** Event time of the first event (epoch ms). */
  startMs: number;
  /** Event time between two consecutive events of the stream (ms; default 1, i.e. 1k events/s of event time). */
  eventGapMs?: number;
  /** Runs per simulated fleet drawn as templates before the next one (default 5,000). */
  runsPerCycle?: number;
  /** Share of runaway runs (tool loops, step-cap overruns, token spikes; default 0.05). */
  runawayShare?: number;
}

/**
 * A stream of span events with many runs open at once, as a large fleet sends them: `concurrency`
 * slots, each holding one run of the simulated fleet (src/sim/fleet.ts: run_start, LLM and tool
 * calls, a judge score, run_end; 5 % runaways), visited in turn — each visit emits the slot's
 * run's next event; a finished run makes room for the next one. Runs come from successive
 * simulated fleets (a new seed every `runsPerCycle` runs: 100 tenants × 20 users, 3 agents, so a
 * few thousand spend cohorts). Event time advances `eventGapMs` per event, so it is in order and
 * a run's steps are `concurrency × eventGapMs` apart (100 s at 100k runs and 1 ms). Deterministic.
 */
export function* concurrentFleet(o: ConcurrentFleetOptions): Generator<SpanEventInput> {
  const gap = o.eventGapMs ?? 1;
  const perCycle = o.runsPerCycle ?? 5_000;
  let cycle = -1;
  let templates: SpanEventInput[][] = [];
  let next = 0;
  const nextRun = (): { events: SpanEventInput[]; prefix: string } => {
    if (next === templates.length) {
      cycle++;
      next = 0;
      const { events } = simulateFleet({ runs: perCycle, seed: o.seed + cycle, runGapMs: 1, agents: 3, tenants: 100, usersPerTenant: 20, runawayShare: o.runawayShare ?? 0.05 });
      const byRun = new Map<string, SpanEventInput[]>();
      for (const e of events) {
        const list = byRun.get(e.run_id);
        if (list) list.push(e);
        else byRun.set(e.run_id, [e]);
      }
      templates = [...byRun.values()];
    }
    return { events: templates[next++] as SpanEventInput[], prefix: `c${cycle}-` };
  };
  const slots: Array<{ events: SpanEventInput[]; prefix: string; i: number }> = [];
  for (let n = 0; n < o.events; n++) {
    const k = n % o.concurrency;
    let slot = slots[k];
    if (slot === undefined || slot.i === slot.events.length) {
      slot = { ...nextRun(), i: 0 };
      slots[k] = slot;
    }
    const e = slot.events[slot.i++] as SpanEventInput;
    yield { ...e, event_id: `e${o.seed}-${n}`, run_id: `${slot.prefix}${e.run_id}`, ts: o.startMs + Math.floor(n * gap) };
  }
}

/**
 * Writes the stream as JSON Lines to a file in the temp directory named after the options, once:
 * a later call with the same options finds it there. Resolves with its path.
 */
export async function concurrentFleetFile(o: ConcurrentFleetOptions): Promise<string> {
  const name = `runwarden-bench-fleet-${o.events}-${o.concurrency}-${o.seed}-${o.startMs}-${o.eventGapMs ?? 1}-${o.runsPerCycle ?? 5_000}-${o.runawayShare ?? 0.05}.jsonl`;
  const path = join(tmpdir(), name);
  if (existsSync(path) && statSync(path).size > 0) return path;
  const partial = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(partial);
  let chunk = '';
  for (const e of concurrentFleet(o)) {
    chunk += `${JSON.stringify(e)}\n`;
    if (chunk.length >= 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      chunk = '';
    }
  }
  out.write(chunk);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  // Renamed at the end: a run killed midway leaves no truncated fleet for the next one to trust.
  renameSync(partial, path);
  return path;
}
