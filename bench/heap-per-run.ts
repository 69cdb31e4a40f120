/**
 * Heap bytes per live run (run with --expose-gc; `npm run bench` runs it through bench/run.ts,
 * alone: `node --expose-gc --import tsx bench/heap-per-run.ts [--runs 100000] [--repeats 1]`).
 *
 * Opens N runs with the simulated fleet's realistic handful of events each (run_start, LLM and
 * tool calls, a judge score; no run_end, so every run stays live), decoded from bytes exactly as
 * the pipeline does, into a run table (src/runs/run-table.ts: the per-run state of the per-run
 * stage). gc() before and after; the difference divided by N. Then each part of the entries is
 * replaced by a shared value, one after the other, to show where the bytes go.
 *
 * The per-run stage also keeps a duplicate cache of event ids (src/ingest/dedup.ts). It is per
 * event, not per run (ids outlive their run by the ttl, up to `dedupMaxEntries`), so it is
 * measured apart, per id, with ids as JSON.parse makes them.
 *
 * Median of `repeats` (default 1: the figure is a byte count, not a timing, and one pass over
 * 100k runs takes about a minute here). Prints one JSON object on stdout.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initialStepCapState } from '../detectors/step-cap.ts';
import { initialToolLoopState } from '../detectors/tool-loop.ts';
import type { SpanEventInput } from '../src/contracts/span.ts';
import { createDedupCache } from '../src/ingest/dedup.ts';
import { decodeSpan } from '../src/ingest/decode.ts';
import { DEFAULT_POLICY, type Policy } from '../src/policy/policy.ts';
import { createRunTable, type RunEntry, type RunTable } from '../src/runs/run-table.ts';
import { simulateFleet } from '../src/sim/fleet.ts';
import { median, round } from './lib/stats.ts';

export interface HeapResult {
  runs: number;
  repeats: number;
  events_per_run_mean: number;
  /** Run table (RunEntry: ids, caps, step-cap and tool-loop state, Map slot): median bytes per live run. */
  heap_bytes_per_live_run: number;
  heap_bytes_per_live_run_samples: number[];
  /**
   * Where an entry's bytes go (last repeat): each part replaced by one shared value in every
   * entry, in this order, and the heap measured again. `entry_and_map` is what is left: the Map
   * slot, the RunEntry object, its run id and numbers.
   */
  breakdown_bytes_per_run: Record<string, number>;
  /** The per-run stage's duplicate cache, per remembered event id (bounded by dedupMaxEntries, default 200,000 per partition). */
  dedup_bytes_per_event_id: number;
}

const CHUNK = 1_000;

/** Feeds `runs` live runs into `table`, chunk by chunk so that no event outlives its chunk. Returns the events applied. */
function feed(table: RunTable, runs: number): number {
  const startMs = Date.now() - 600_000;
  let events = 0;
  for (let c = 0; c * CHUNK < runs; c++) {
    const fleet = simulateFleet({ runs: Math.min(CHUNK, runs - c * CHUNK), seed: c + 1, startMs: startMs + c * 1_000, runGapMs: 1 });
    for (const e of fleet.events) {
      if (e.kind === 'run_end') continue;
      const event: SpanEventInput = { ...e, run_id: `c${c}-${e.run_id}`, event_id: `c${c}-${e.event_id}` };
      const decoded = decodeSpan(Buffer.from(JSON.stringify(event)), { nowMs: Date.now() });
      if (!decoded.ok) throw new Error(`bench: a simulated event did not decode: ${decoded.message}`);
      table.apply(decoded.event);
      events++;
    }
  }
  if (table.size !== runs) throw new Error(`bench: expected ${runs} live runs, the table holds ${table.size}`);
  return events;
}

/** The run ids feed() opens (simulateFleet names its runs run-000000…). */
function* runIds(runs: number): Generator<string> {
  for (let i = 0; i < runs; i++) yield `c${Math.floor(i / CHUNK)}-run-${String(i % CHUNK).padStart(6, '0')}`;
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Replaces the parts of every entry by shared values one after the other, measuring the heap each time. */
function breakdown(table: RunTable, runs: number, before: number): Record<string, number> {
  const shared = { id: 'x', caps: undefined as RunEntry['caps'] | undefined, stepCap: initialStepCapState(), toolLoop: initialToolLoopState() };
  const parts: Array<[string, (e: RunEntry) => void]> = [
    // The repeat rule's table: the tracked (tool, args) pairs (and their args strings) and their counts.
    ['tool_loop_counts', (e) => (e.toolLoopState = { ...e.toolLoopState, calls: shared.toolLoop.calls, counts: shared.toolLoop.counts })],
    // The cycle rules' window of recent steps (indexes into the pairs, mostly).
    ['tool_loop_recent', (e) => (e.toolLoopState = { ...e.toolLoopState, recent: shared.toolLoop.recent })],
    // The state object, its streaks and cycle counters.
    ['tool_loop_rest', (e) => (e.toolLoopState = shared.toolLoop)],
    ['step_cap_state', (e) => (e.stepCapState = shared.stepCap)],
    ['caps', (e) => (e.caps = shared.caps ??= e.caps)],
    ['agent_tenant_user_ids', (e) => ((e.agentId = shared.id), (e.tenantId = shared.id), (e.userId = shared.id))],
  ];
  const out: Record<string, number> = {};
  let last = heapUsed();
  for (const [name, strip] of parts) {
    for (const id of runIds(runs)) {
      // The table hands out its live entries read-only; only this measurement writes to them.
      const entry = table.get(id) as RunEntry | undefined;
      if (!entry) throw new Error(`bench: run ${id} is not in the table`);
      strip(entry);
    }
    const now = heapUsed();
    out[name] = Math.round((last - now) / runs);
    last = now;
  }
  out['entry_and_map'] = Math.round((last - before) / runs);
  return out;
}

function measureTable(policy: Policy, runs: number): { bytesPerRun: number; events: number; parts: Record<string, number> } {
  const before = heapUsed();
  const table = createRunTable({ policy });
  const events = feed(table, runs);
  const bytesPerRun = (heapUsed() - before) / runs;
  return { bytesPerRun, events, parts: breakdown(table, runs, before) };
}

function measureDedup(ids: number): number {
  const before = heapUsed();
  const dedup = createDedupCache({ maxEntries: ids, ttlMs: 3_600_000 });
  const ts = Date.now();
  // Ids as the decoder hands them over: fresh strings from JSON.parse, like `c12-evt-00001234`.
  for (let i = 0; i < ids; i++) dedup.seen(JSON.parse(`"c${Math.floor(i / 10_000)}-evt-${String(i).padStart(8, '0')}"`) as string, ts);
  const bytes = (heapUsed() - before) / ids;
  if (!dedup.seen(`c0-evt-${'0'.repeat(8)}`, ts)) throw new Error('bench: the dedup cache lost an id');
  return bytes;
}

export function benchHeapPerRun(runs: number, repeats: number): HeapResult {
  // No run may be dropped for capacity or idleness while the table fills.
  const policy: Policy = { ...DEFAULT_POLICY, runs: { ...DEFAULT_POLICY.runs, max_runs: runs * 2 } };
  const samples: number[] = [];
  let events = 0;
  let parts: Record<string, number> = {};
  for (let i = 0; i < repeats; i++) {
    const m = measureTable(policy, runs);
    samples.push(m.bytesPerRun);
    events = m.events;
    parts = m.parts;
  }
  return {
    runs,
    repeats,
    events_per_run_mean: round(events / runs, 1),
    heap_bytes_per_live_run: Math.round(median(samples)),
    heap_bytes_per_live_run_samples: samples.map((b) => Math.round(b)),
    breakdown_bytes_per_run: parts,
    dedup_bytes_per_event_id: Math.round(measureDedup(200_000)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, repeats: { type: 'string', default: '1' } } });
  process.stdout.write(`${JSON.stringify(benchHeapPerRun(Number(values.runs), Number(values.repeats)), null, 2)}\n`);
}
