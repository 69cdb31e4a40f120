/**
 * Memory over a stream of distinct runs (`rss_plateau`): 1M runs, never one id twice, through the
 * embedded engine (per-run stage with its run table and duplicate cache, partial feed, cohort
 * stage; default policy, so at most `max_runs` = 100k live runs), 10k runs open at once, each run
 * short (run_start, an LLM call, a tool call, run_end). RSS and heap are sampled every 1 % of the
 * stream; the figure is the growth per 1k runs over the first and the last quarter. Bounded state
 * plateaus: the last quarter grows by a small fraction of the first.
 *
 * `node --expose-gc --import tsx bench/rss-plateau.ts [--runs 1000000]`. Prints JSON on stdout.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPLAY_KEY_RING } from '../src/cli/commands/replay.ts';
import type { SpanEventInput } from '../src/contracts/span.ts';
import { createEmbeddedEngine } from '../src/engine/embedded-engine.ts';
import { decodeSpan } from '../src/ingest/decode.ts';
import { DEFAULT_POLICY } from '../src/policy/policy.ts';
import { round } from './lib/stats.ts';

export interface RssSample {
  runs: number;
  rss_mb: number;
  heap_used_mb: number;
}

export interface RssPlateauResult {
  runs: number;
  events: number;
  concurrency: number;
  /** RSS growth over the first and last quarter of the stream, bytes per 1k runs. */
  rss_growth_bytes_per_1k_runs_first_quarter: number;
  rss_growth_bytes_per_1k_runs_last_quarter: number;
  /** Same for the heap after a full gc at each sample. */
  heap_growth_bytes_per_1k_runs_first_quarter: number;
  heap_growth_bytes_per_1k_runs_last_quarter: number;
  /** Last-quarter RSS growth ÷ first-quarter (≤ 0.1, or ≤ 16 B per run in the last quarter: plateau). */
  rss_last_vs_first_quarter: number;
  plateau: boolean;
  live_runs_at_end: number;
  cohort_states_at_end: number;
  samples: RssSample[];
}

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'] as const;

/** Run i's four events (distinct ids), its start at `startMs`. */
function runEvents(i: number, startMs: number): SpanEventInput[] {
  const tenant = i % 200;
  const base = {
    schema: 'runwarden.span/v1' as const,
    run_id: `r-${i}`,
    agent_id: `agent-${i % 5}`,
    tenant_id: `tenant-${tenant}`,
    user_id: `user-${tenant}-${i % 7}`,
    attrs: { model_version: 'v1', prompt_hash: 'p1', plan_tier: tenant % 2 ? 'pro' : 'free' },
  };
  return [
    { ...base, event_id: `r-${i}-0`, span_id: `r-${i}`, ts: startMs, kind: 'run_start' },
    { ...base, event_id: `r-${i}-1`, span_id: `r-${i}-1`, parent_span_id: `r-${i}`, ts: startMs, kind: 'llm_call', llm: { model: MODELS[i % 3] as string, input_tokens: 900 + (i % 500), output_tokens: 300 } },
    { ...base, event_id: `r-${i}-2`, span_id: `r-${i}-2`, parent_span_id: `r-${i}`, ts: startMs, kind: 'tool_call', tool: { name: 'search', args_hash: `a${i}`, status: 'ok' } },
    { ...base, event_id: `r-${i}-3`, span_id: `r-${i}`, ts: startMs, kind: 'run_end', status: 'ok' },
  ];
}

function memory(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export function benchRssPlateau(runs: number, concurrency = 10_000): RssPlateauResult {
  const engine = createEmbeddedEngine({ policy: DEFAULT_POLICY, keyRing: REPLAY_KEY_RING });
  const decodeOptions = { nowMs: 0, maxFutureMs: Number.POSITIVE_INFINITY };
  const t0 = Date.UTC(2026, 0, 5);
  const step = Math.max(1, Math.floor(runs / 100));
  const raw: Array<{ runs: number; rss: number; heap: number }> = [];
  let events = 0;
  // Runs go in waves of `concurrency`: every run of a wave starts, then each takes its next step
  // in turn, so `concurrency` runs are open at once; event time moves 10 ms per event.
  for (let wave = 0; wave * concurrency < runs; wave++) {
    const first = wave * concurrency;
    const n = Math.min(concurrency, runs - first);
    const lists: SpanEventInput[][] = [];
    for (let k = 0; k < n; k++) lists.push(runEvents(first + k, t0));
    for (let s = 0; s < 4; s++) {
      for (let k = 0; k < n; k++) {
        const e = (lists[k] as SpanEventInput[])[s] as SpanEventInput;
        e.ts = t0 + events * 10;
        events++;
        const d = decodeSpan(JSON.stringify(e), decodeOptions);
        if (!d.ok) throw new Error(`bench: an event did not decode: ${d.message}`);
        engine.apply(d.event);
      }
    }
    const done = first + n;
    if (done % step < n || done === runs) {
      const m = memory();
      raw.push({ runs: done, ...m });
    }
  }
  const at = (q: number) => raw[Math.min(raw.length - 1, Math.max(0, Math.round(q * (raw.length - 1))))] as (typeof raw)[number];
  const slope = (a: (typeof raw)[number], b: (typeof raw)[number], k: 'rss' | 'heap') => ((b[k] - a[k]) / Math.max(1, b.runs - a.runs)) * 1_000;
  const rssFirst = slope(at(0), at(0.25), 'rss');
  const rssLast = slope(at(0.75), at(1), 'rss');
  const ratio = rssFirst > 0 ? rssLast / rssFirst : rssLast <= 0 ? 0 : Number.POSITIVE_INFINITY;
  return {
    runs,
    events,
    concurrency,
    rss_growth_bytes_per_1k_runs_first_quarter: Math.round(rssFirst),
    rss_growth_bytes_per_1k_runs_last_quarter: Math.round(rssLast),
    heap_growth_bytes_per_1k_runs_first_quarter: Math.round(slope(at(0), at(0.25), 'heap')),
    heap_growth_bytes_per_1k_runs_last_quarter: Math.round(slope(at(0.75), at(1), 'heap')),
    rss_last_vs_first_quarter: round(ratio, 3),
    plateau: ratio <= 0.1 || rssLast <= 16_000,
    live_runs_at_end: engine.perRun.runs.size,
    cohort_states_at_end: engine.cohort.size,
    samples: raw.map((r) => ({ runs: r.runs, rss_mb: round(r.rss / 2 ** 20, 1), heap_used_mb: round(r.heap / 2 ** 20, 1) })),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '1000000' }, concurrency: { type: 'string', default: '10000' } } });
  process.stdout.write(`${JSON.stringify(benchRssPlateau(Number(values.runs), Number(values.concurrency)), null, 2)}\n`);
}
