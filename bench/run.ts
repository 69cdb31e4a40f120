/**
 * `npm run bench` (through scripts/bench.sh, which starts the services): runs
 * bench/abort-latency.ts and bench/heap-per-run.ts, each in its own process, and merges the
 * figures into bench/results/latest.json — the committed record. Raw samples go to
 * bench/results/*.tmp.json (ignored). Options after `--` go to abort-latency.ts (e.g.
 * `npm run bench -- --levels 1000 --aborts 200`), except `--runs N` (heap) and `--out FILE`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AbortLatencyResult } from './abort-latency.ts';
import type { HeapResult } from './heap-per-run.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const results = `${root}bench/results/`;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Runs `node [flags] --import tsx bench/<file> [args]` and resolves with its stdout. */
function runNode(flags: string[], file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', `bench/${file}`, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench/${file} exited with code ${code}`))));
  });
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** 1000 → `1k`, 10000 → `10k`. */
const rateKey = (rate: number) => (rate % 1_000 === 0 ? `${rate / 1_000}k` : String(rate));

const { values, tokens } = parseArgs({
  options: { runs: { type: 'string', default: '100000' }, out: { type: 'string', default: `${results}latest.json` } },
  strict: false,
  tokens: true,
});
// Everything but --runs and --out is for abort-latency.ts.
const passThrough = tokens.flatMap((t) => {
  if (t.kind === 'option' && (t.name === 'runs' || t.name === 'out')) return [];
  if (t.kind === 'option') return t.value === undefined ? [t.rawName] : [t.rawName, t.value];
  return t.kind === 'positional' ? [t.value] : [];
});

const startedAt = new Date();
const load = loadavg();
log(`abort latency under load (load average before: ${load.map((l) => l.toFixed(2)).join(' ')})`);
const latencyFile = `${results}abort-latency.tmp.json`;
await runNode([], 'abort-latency.ts', ['--out', latencyFile, ...passThrough]);
const latency = JSON.parse(await readFile(latencyFile, 'utf8')) as AbortLatencyResult;
log(`heap per live run (${values.runs} runs)`);
const heap = JSON.parse(await runNode(['--expose-gc'], 'heap-per-run.ts', ['--runs', String(values.runs)])) as HeapResult;
await writeFile(`${results}heap-per-run.tmp.json`, `${JSON.stringify(heap, null, 2)}\n`);

const flat: Record<string, number> = {};
for (const l of latency.levels) {
  const k = rateKey(l.target_events_per_s);
  flat[`abort_latency_p50_ms_at_${k}`] = l.abort_latency_ms.p50;
  flat[`abort_latency_p99_ms_at_${k}`] = l.abort_latency_ms.p99;
  flat[`baseline_kafka_rtt_p50_ms_at_${k}`] = l.baseline_rtt_ms.p50;
  flat[`baseline_kafka_rtt_p99_ms_at_${k}`] = l.baseline_rtt_ms.p99;
  flat[`abort_latency_ratio_p50_at_${k}`] = l.ratio_p50;
  flat[`abort_latency_ratio_p99_at_${k}`] = l.ratio_p99;
  flat[`achieved_events_per_s_at_${k}`] = l.achieved_events_per_s;
  flat[`pipeline_events_per_s_at_${k}`] = l.pipeline_events_per_s;
  flat[`pipeline_lag_events_median_at_${k}`] = l.pipeline_lag_events.median;
  flat[`aborts_measured_at_${k}`] = l.aborts_measured;
  flat[`aborts_lost_at_${k}`] = l.aborts_lost;
}
const at10k = latency.levels.find((l) => l.target_events_per_s === 10_000);
let previous: Record<string, unknown> = {};
try {
  previous = JSON.parse(await readFile(values.out as string, 'utf8')) as Record<string, unknown>;
} catch {
  // first run
}
const record = {
  ...previous,
  ...flat,
  heap_bytes_per_live_run: heap.heap_bytes_per_live_run,
  goals: {
    abort_latency_p99_ms_at_10k: { goal_max: 50, value: at10k?.abort_latency_ms.p99 ?? null, met: at10k ? at10k.abort_latency_ms.p99 <= 50 : null, target_rate_reached: at10k ? at10k.fleet_skipped_events === 0 && at10k.achieved_events_per_s >= 9_500 : null },
    heap_bytes_per_live_run: { goal_max: 1_024, value: heap.heap_bytes_per_live_run, met: heap.heap_bytes_per_live_run <= 1_024 },
  },
  abort_latency: { ...latency, raw: undefined },
  heap,
  environment: {
    node: process.version,
    cpu_count: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    load_average_before: load.map((l) => Number(l.toFixed(2))),
    kafka_brokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    sink: latency.sink,
  },
  timestamp: startedAt.toISOString(),
  duration_s: Math.round((Date.now() - startedAt.getTime()) / 1_000),
  git_commit: git(['rev-parse', 'HEAD']),
  git_dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
  command: 'npm run bench',
};
await writeFile(values.out as string, `${JSON.stringify(record, null, 2)}\n`);
log(`wrote ${values.out as string}`);
for (const [k, v] of Object.entries(flat)) if (k.startsWith('abort_latency_p') || k.startsWith('achieved')) log(`  ${k}: ${v}`);
log(`  heap_bytes_per_live_run: ${heap.heap_bytes_per_live_run}`);
