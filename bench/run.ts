/**
 * `npm run bench` (through scripts/bench.sh, which prepares npm and the services and takes
 * /tmp/runwarden-heavy.lock): runs each benchmark in its own process and merges the figures into
 * bench/results/latest.json — the committed record — then prints a short table. Raw samples go to
 * bench/results/*.tmp.json (ignored).
 *
 * Steps (`--only core,kafka,…` runs some of them; the others keep their previous figures, each
 * section says when it was measured): latency (abort-latency.ts), heap (heap-per-run.ts), core
 * (core-ratio.ts), kafka (kafka-ratio.ts), clickhouse (clickhouse-insert.ts), clients
 * (kafka-clients.ts), rss (rss-plateau.ts), cohort (cohort-stage.ts, heap per cohort).
 * Options after `--` go to abort-latency.ts (e.g. `npm run bench -- --levels 1000 --aborts 200`),
 * except `--only`, `--runs N` (heap), `--out FILE`, `--core-events N`, `--core-concurrency N`,
 * `--kafka-events N`, `--rss-runs N` and `--trials N` (core, kafka, clickhouse, clients).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AbortLatencyResult } from './abort-latency.ts';
import type { ClickHouseResult } from './clickhouse-insert.ts';
import type { CohortBenchResult } from './cohort-stage.ts';
import type { CoreResult } from './core-ratio.ts';
import type { HeapResult } from './heap-per-run.ts';
import type { KafkaClientsResult } from './kafka-clients.ts';
import type { KafkaResult } from './kafka-ratio.ts';
import type { RssPlateauResult } from './rss-plateau.ts';

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

const STEPS = ['latency', 'heap', 'core', 'kafka', 'clickhouse', 'clients', 'rss', 'cohort'] as const;
type Step = (typeof STEPS)[number];
const OWN = new Set(['runs', 'out', 'only', 'core-events', 'core-concurrency', 'kafka-events', 'rss-runs', 'trials']);

const { values, tokens } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    out: { type: 'string', default: `${results}latest.json` },
    only: { type: 'string', default: STEPS.join(',') },
    'core-events': { type: 'string', default: '1200000' },
    'core-concurrency': { type: 'string', default: '120000' },
    'kafka-events': { type: 'string', default: '500000' },
    'rss-runs': { type: 'string', default: '1000000' },
    trials: { type: 'string', default: '3' },
  },
  strict: false,
  tokens: true,
});
const only = new Set((values.only as string).split(',').map((x) => x.trim()));
for (const s of only) if (!(STEPS as readonly string[]).includes(s)) throw new Error(`--only: unknown step "${s}"; expected some of ${STEPS.join(', ')}`);
const runs = (step: Step) => only.has(step);
// Everything else is for abort-latency.ts.
const passThrough = tokens.flatMap((t) => {
  if (t.kind === 'option' && OWN.has(t.name)) return [];
  if (t.kind === 'option') return t.value === undefined ? [t.rawName] : [t.rawName, t.value];
  return t.kind === 'positional' ? [t.value] : [];
});
const trials = String(values.trials);

/** Runs a step; a failing step is logged and recorded, and the others still run. */
const failures: Record<string, string> = {};
async function step(name: Step, fn: () => Promise<void>): Promise<void> {
  if (!runs(name)) return;
  try {
    await fn();
  } catch (err) {
    failures[name] = (err as Error).message;
    log(`${name} failed: ${(err as Error).message}`);
  }
}

const startedAt = new Date();
const load = loadavg();
const measuredAt = () => new Date().toISOString();
let previous: Record<string, unknown> = {};
try {
  previous = JSON.parse(await readFile(values.out as string, 'utf8')) as Record<string, unknown>;
} catch {
  // first run
}
const prevGoals = (previous['goals'] ?? {}) as Record<string, unknown>;
const flat: Record<string, number | boolean | null> = {};
const sections: Record<string, unknown> = {};
const goals: Record<string, unknown> = { ...prevGoals };

await step('latency', async () => {
  log(`abort latency under load (load average before: ${load.map((l) => l.toFixed(2)).join(' ')})`);
  const latencyFile = `${results}abort-latency.tmp.json`;
  await runNode([], 'abort-latency.ts', ['--out', latencyFile, ...passThrough]);
  const latency = JSON.parse(await readFile(latencyFile, 'utf8')) as AbortLatencyResult;
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
  goals['abort_latency_p99_ms_at_10k'] = { goal_max: 50, value: at10k?.abort_latency_ms.p99 ?? null, met: at10k ? at10k.abort_latency_ms.p99 <= 50 : null, target_rate_reached: at10k ? at10k.fleet_skipped_events === 0 && at10k.achieved_events_per_s >= 9_500 : null };
  sections['abort_latency'] = { ...latency, raw: undefined, measured_at: measuredAt() };
});

await step('heap', async () => {
  log(`heap per live run (${values.runs as string} runs)`);
  const heap = JSON.parse(await runNode(['--expose-gc'], 'heap-per-run.ts', ['--runs', String(values.runs)])) as HeapResult;
  await writeFile(`${results}heap-per-run.tmp.json`, `${JSON.stringify(heap, null, 2)}\n`);
  flat['heap_bytes_per_live_run'] = heap.heap_bytes_per_live_run;
  goals['heap_bytes_per_live_run'] = { goal_max: 1_024, value: heap.heap_bytes_per_live_run, met: heap.heap_bytes_per_live_run <= 1_024 };
  sections['heap'] = { ...heap, measured_at: measuredAt() };
});

await step('core', async () => {
  log(`core: embedded engine vs JSON.parse (${values['core-events'] as string} events, ${values['core-concurrency'] as string} runs at once)`);
  const core = JSON.parse(await runNode([], 'core-ratio.ts', ['--events', String(values['core-events']), '--concurrency', String(values['core-concurrency']), '--trials', trials])) as CoreResult;
  flat['core_ratio'] = core.core_ratio;
  flat['core_engine_events_per_s'] = core.engine_events_per_s;
  flat['core_json_parse_events_per_s'] = core.json_parse_events_per_s;
  goals['core_ratio'] = { goal_min: 0.6, value: core.core_ratio, met: core.core_ratio >= 0.6 };
  sections['core'] = { ...core, measured_at: measuredAt() };
});

await step('kafka', async () => {
  log(`kafka: runwarden start (ingest,detect,cohort) vs a no-op kafkajs consumer (${values['kafka-events'] as string} events)`);
  const kafka = JSON.parse(await runNode([], 'kafka-ratio.ts', ['--events', String(values['kafka-events']), '--trials', String(Math.min(Number(trials), 2))])) as KafkaResult;
  await writeFile(`${results}kafka-ratio.tmp.json`, `${JSON.stringify(kafka, null, 2)}\n`);
  flat['kafka_ratio'] = kafka.kafka_ratio;
  flat['kafka_pipeline_events_per_s'] = kafka.pipeline_events_per_s;
  flat['kafka_bare_consumer_events_per_s'] = kafka.bare_consumer_events_per_s;
  goals['kafka_ratio'] = { goal_min: 0.8, value: kafka.kafka_ratio, met: kafka.kafka_ratio >= 0.8 };
  // The lag series of the last trial stays (every 500 ms); the earlier trials' go to the .tmp.json.
  sections['kafka'] = { ...kafka, pipeline_trials: kafka.pipeline_trials.map((t, i) => (i === kafka.pipeline_trials.length - 1 ? t : { ...t, lag: undefined })), measured_at: measuredAt() };
});

await step('clickhouse', async () => {
  log('clickhouse: batch writer + store vs bare @clickhouse/client inserts');
  const ch = JSON.parse(await runNode([], 'clickhouse-insert.ts', ['--trials', trials])) as ClickHouseResult;
  flat['clickhouse_insert_ratio'] = ch.clickhouse_insert_ratio;
  flat['clickhouse_project_rows_per_s'] = ch.project_rows_per_s;
  flat['clickhouse_bare_client_rows_per_s'] = ch.bare_client_rows_per_s;
  sections['clickhouse'] = { ...ch, measured_at: measuredAt() };
});

await step('clients', async () => {
  log('kafka clients: kafkajs vs @platformatic/kafka behind the Kafka port');
  const clients = JSON.parse(await runNode([], 'kafka-clients.ts', ['--trials', trials])) as KafkaClientsResult;
  flat['kafkajs_produce_msgs_per_s'] = clients.kafkajs.produce_msgs_per_s;
  flat['kafkajs_consume_msgs_per_s'] = clients.kafkajs.consume_msgs_per_s;
  flat['platformatic_produce_msgs_per_s'] = clients.platformatic.produce_msgs_per_s;
  flat['platformatic_consume_msgs_per_s'] = clients.platformatic.consume_msgs_per_s;
  flat['platformatic_vs_kafkajs_produce_ratio'] = clients.platformatic_vs_kafkajs_produce_ratio;
  flat['platformatic_vs_kafkajs_consume_ratio'] = clients.platformatic_vs_kafkajs_consume_ratio;
  sections['kafka_clients'] = { ...clients, measured_at: measuredAt() };
});

await step('rss', async () => {
  log(`rss over ${values['rss-runs'] as string} distinct runs`);
  const rss = JSON.parse(await runNode(['--expose-gc'], 'rss-plateau.ts', ['--runs', String(values['rss-runs'])])) as RssPlateauResult;
  flat['rss_growth_bytes_per_1k_runs_first_quarter'] = rss.rss_growth_bytes_per_1k_runs_first_quarter;
  flat['rss_growth_bytes_per_1k_runs_last_quarter'] = rss.rss_growth_bytes_per_1k_runs_last_quarter;
  flat['rss_plateau'] = rss.plateau;
  goals['rss_plateau_over_1m_runs'] = { goal: 'last-quarter RSS growth ≤ 10 % of the first quarter (or ≤ 16 B per run)', value: rss.rss_last_vs_first_quarter, met: rss.plateau };
  sections['rss_plateau'] = { ...rss, measured_at: measuredAt() };
});

await step('cohort', async () => {
  log('heap per cohort (cohort stage, 10k cohorts, 70 min of event time)');
  const cohortFile = `${results}cohort.tmp.json`;
  const cohort = JSON.parse(await runNode(['--expose-gc'], 'cohort-stage.ts', ['--cohorts', '10000', '--minutes', '70', '--repeats', '1', '--out', cohortFile])) as CohortBenchResult;
  flat['heap_bytes_per_cohort'] = cohort.heap_bytes_per_cohort;
  flat['cohort_partials_ratio_vs_json_parse'] = cohort.cohort_partials_ratio_vs_json_parse;
  sections['cohort'] = {
    heap_bytes_per_cohort: cohort.heap_bytes_per_cohort,
    cohort_partials_per_s: cohort.cohort_partials_per_s,
    cohort_partials_ratio_vs_json_parse: cohort.cohort_partials_ratio_vs_json_parse,
    checkpoint_bytes_per_cohort: cohort.checkpoint_bytes_per_cohort,
    options: { cohorts: 10_000, ...cohort.options },
    measured_at: measuredAt(),
  };
});

const record = {
  ...previous,
  ...flat,
  goals,
  ...sections,
  environment: {
    ...((previous['environment'] ?? {}) as Record<string, unknown>),
    node: process.version,
    cpu_count: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    load_average_before: load.map((l) => Number(l.toFixed(2))),
    kafka_brokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    clickhouse_url: process.env.CLICKHOUSE_URL ?? null,
  },
  timestamp: startedAt.toISOString(),
  steps: [...only],
  failed_steps: failures,
  duration_s: Math.round((Date.now() - startedAt.getTime()) / 1_000),
  git_commit: git(['rev-parse', 'HEAD']),
  git_dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
};
await writeFile(values.out as string, `${JSON.stringify(record, null, 2)}\n`);
log(`wrote ${values.out as string}`);

/** The short table: every figure with its same-run baseline, the ratio and the goal. */
const r = record as Record<string, unknown>;
const num = (k: string) => (typeof r[k] === 'number' ? String(r[k]) : '–');
const rows: string[][] = [
  ['figure', 'value', 'baseline (same run)', 'ratio', 'goal'],
  ['core: replay events/s', num('core_engine_events_per_s'), `JSON.parse ${num('core_json_parse_events_per_s')}`, num('core_ratio'), '≥ 0.6'],
  ['kafka: start events/s', num('kafka_pipeline_events_per_s'), `no-op consumer ${num('kafka_bare_consumer_events_per_s')}`, num('kafka_ratio'), '≥ 0.8'],
  ['clickhouse: rows/s', num('clickhouse_project_rows_per_s'), `bare client ${num('clickhouse_bare_client_rows_per_s')}`, num('clickhouse_insert_ratio'), '–'],
  ['abort p99 ms at 10k', num('abort_latency_p99_ms_at_10k'), `kafka rtt p99 ${num('baseline_kafka_rtt_p99_ms_at_10k')}`, num('abort_latency_ratio_p99_at_10k'), '≤ 50 ms'],
  ['abort p99 ms at 1k', num('abort_latency_p99_ms_at_1k'), `kafka rtt p99 ${num('baseline_kafka_rtt_p99_ms_at_1k')}`, num('abort_latency_ratio_p99_at_1k'), '–'],
  ['heap B per live run', num('heap_bytes_per_live_run'), '–', '–', '≤ 1024'],
  ['heap B per cohort', num('heap_bytes_per_cohort'), '–', '–', '–'],
  ['rss B/1k runs, last ¼', num('rss_growth_bytes_per_1k_runs_last_quarter'), `first ¼ ${num('rss_growth_bytes_per_1k_runs_first_quarter')}`, '–', 'plateau'],
  ['platformatic produce/s', num('platformatic_produce_msgs_per_s'), `kafkajs ${num('kafkajs_produce_msgs_per_s')}`, num('platformatic_vs_kafkajs_produce_ratio'), '–'],
  ['platformatic consume/s', num('platformatic_consume_msgs_per_s'), `kafkajs ${num('kafkajs_consume_msgs_per_s')}`, num('platformatic_vs_kafkajs_consume_ratio'), '–'],
];
const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
process.exitCode = Object.keys(failures).length > 0 ? 1 : 0;
process.stdout.write(`${rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')).join('\n')}\n`);
