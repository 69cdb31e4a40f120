/**
 * Soak (`npm run bench:soak`): `runwarden start --stages ingest,detect,cohort` (ClickHouse rows
 * on) under a steady fleet of `--rate` events/s (default 5,000; bench/fleet-producer.ts, fresh
 * run ids all along) for `--duration` (default 30m). Every 10 s: the warden's RSS and heap (a
 * preloaded reporter, bench/lib/memory-reporter.ts, sends them) and its consumer lag.
 *
 * After `--warmup` (default 10m, or a third of a shorter soak) the growth of RSS and of the heap's
 * floor (the lowest heapUsed of each minute: what survives GC) is fitted with a line and given per
 * 10 minutes; the soak fails (exit code 1) when either grows faster than `--max-growth-mb`
 * (default 16 MB per 10 min), or when the warden falls behind (lag still growing at the end).
 * Writes bench/results/soak.json (`--out`) and prints a summary.
 *
 * The warm-up must outlast the filling of the bounded state: the duplicate caches (1M event ids
 * in ingest, 200k per detect partition, 1 h ttl) are full after ~200 s and ~320 s at 5k events/s
 * with 8 partitions (~300 MB together). A soak shorter than ~15 minutes measures them filling.
 *
 * `flock /tmp/runwarden-heavy.lock npm run bench:soak -- --duration 5m`
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { topicsEnv, topicsWithPrefix } from '../src/config/env.ts';
import { parseCommitMetadata } from '../src/engine/partition-progress.ts';
import { createKafka } from '../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../src/kafka/topics.ts';
import { parseDurationMs } from '../src/policy/duration.ts';
import { createServerStore } from '../src/store/server-store.ts';
import { forkBench } from './lib/child.ts';
import type { FleetConfig, FleetReport } from './lib/ipc.ts';
import { round } from './lib/stats.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);
const SAMPLE_MS = 10_000;

export interface SoakSample {
  t_s: number;
  rss_mb: number;
  heap_used_mb: number;
  /** Spans acknowledged by the broker minus those the detect stage committed. */
  detect_lag: number;
  ingest_lag: number;
  fleet_acked: number;
}

export interface SoakResult {
  target_events_per_s: number;
  achieved_events_per_s: number;
  duration_s: number;
  warmup_s: number;
  /** Fitted growth after warm-up, MB per 10 minutes. */
  rss_growth_mb_per_10min: number;
  heap_floor_growth_mb_per_10min: number;
  /** Each 10-minute window (the last one may be shorter): RSS and heap floor at its start and end. */
  windows: Array<{ from_s: number; to_s: number; rss_mb_start: number; rss_mb_end: number; heap_floor_mb_start: number; heap_floor_mb_end: number }>;
  max_growth_mb_per_10min: number;
  keeps_up: boolean;
  passed: boolean;
  samples: SoakSample[];
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function soak(o: { rate: number; durationMs: number; warmupMs: number; maxGrowthMb: number }): Promise<SoakResult> {
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const clickhouseUrl = process.env.CLICKHOUSE_URL;
  if (!clickhouseUrl) throw new Error('set CLICKHOUSE_URL (scripts/bench.sh does)');
  const id = randomBytes(4).toString('hex');
  const topics = topicsWithPrefix(`bench-soak-${id}`);
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'bench-soak', ssl: false });
  await ensureTopics(kafka, defaultTopicSpecs(topics, 8));
  const admin = kafka.admin();
  await admin.connect();
  const database = `bench_soak_${id}`;
  const groupPrefix = `bench-soak-${id}`;

  const warden = fork(`${root}bin/runwarden.js`, ['start', '--stages', 'ingest,detect,cohort', '--group-prefix', groupPrefix, '--heartbeat-ms', '5000'], {
    cwd: root,
    execArgv: ['--import', 'tsx', '--import', `${root}bench/lib/memory-reporter.ts`],
    env: { ...process.env, ...topicsEnv(topics), KAFKA_BROKERS: brokers, CLICKHOUSE_URL: clickhouseUrl, CLICKHOUSE_DATABASE: database, RUNWARDEN_HMAC_KEYS: `soak:${randomBytes(24).toString('hex')}`, LOG_LEVEL: 'warn', RUNWARDEN_BENCH_MEMORY_MS: '2000' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => warden.once('exit', (code) => resolve(code)));
  let memory = { rss: 0, heapUsed: 0 };
  const heapInMinute: number[] = [];
  warden.on('message', (m: { type: string; rss: number; heapUsed: number }) => {
    if (m.type !== 'memory') return;
    memory = m;
    heapInMinute.push(m.heapUsed);
  });

  const fleetConfig: FleetConfig = { brokers: brokers.split(','), topic: topics.spans, eventsPerSecond: o.rate, tickMs: 10, prefix: `soak-${id}`, seed: 9, runawayShare: 0.05 };
  const fleet = forkBench<FleetReport>('fleet-producer.ts', fleetConfig, 'fleet');
  let fleetReport: FleetReport | undefined;
  fleet.onReport((r) => (fleetReport = r));

  const samples: SoakSample[] = [];
  /** Lowest heapUsed per minute (t at the minute's end). */
  const floors: Array<{ t_s: number; mb: number }> = [];
  const t0 = Date.now();
  let lastFloorAt = t0;
  const committed = async (group: string) => {
    // The detect stage's progress is the high-water mark in its commit metadata (see kafka-ratio.ts).
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topics.spans] });
    return t ? t.partitions.reduce((s, p) => s + Math.max(0, Number(parseCommitMetadata(p.metadata) ?? BigInt(p.offset))), 0) : 0;
  };
  try {
    while (Date.now() - t0 < o.durationMs) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      if (warden.exitCode !== null) throw new Error(`runwarden start exited (code ${warden.exitCode})`);
      const end = (await admin.fetchTopicOffsets(topics.spans)).reduce((s, p) => s + Number(p.high), 0);
      const [ingest, detect] = await Promise.all([committed(`${groupPrefix}-ingest`), committed(`${groupPrefix}-detect`)]);
      const t = (Date.now() - t0) / 1e3;
      samples.push({ t_s: round(t, 1), rss_mb: round(memory.rss / 2 ** 20, 1), heap_used_mb: round(memory.heapUsed / 2 ** 20, 1), detect_lag: end - detect, ingest_lag: end - ingest, fleet_acked: fleetReport?.acked ?? 0 });
      if (Date.now() - lastFloorAt >= 60_000 && heapInMinute.length > 0) {
        floors.push({ t_s: round(t, 1), mb: round(Math.min(...heapInMinute) / 2 ** 20, 2) });
        heapInMinute.length = 0;
        lastFloorAt = Date.now();
      }
      const s = samples[samples.length - 1] as SoakSample;
      if (samples.length % 6 === 0) log(`${Math.round(t)} s: rss ${s.rss_mb} MB, heap ${s.heap_used_mb} MB, lag detect ${s.detect_lag} ingest ${s.ingest_lag}, fleet ${s.fleet_acked} acked`);
    }
  } finally {
    await fleet.stop();
    warden.kill('SIGTERM');
    const timer = setTimeout(() => warden.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
    const store = await createServerStore({ url: clickhouseUrl, database: 'default' });
    await store.exec(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
    await store.close();
    await admin.deleteGroups([`${groupPrefix}-ingest`, `${groupPrefix}-detect`, `${groupPrefix}-cohort`]).catch(() => undefined);
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  }
  const warm = o.warmupMs / 1e3;
  const after = samples.filter((s) => s.t_s >= warm);
  const afterFloors = floors.filter((f) => f.t_s >= warm);
  const rssGrowth = slope(after.map((s) => s.t_s), after.map((s) => s.rss_mb)) * 600;
  const heapGrowth = slope(afterFloors.map((f) => f.t_s), afterFloors.map((f) => f.mb)) * 600;
  const windows: SoakResult['windows'] = [];
  for (let from = 0; from < o.durationMs / 1e3; from += 600) {
    const inW = samples.filter((s) => s.t_s >= from && s.t_s < from + 600);
    const fW = floors.filter((f) => f.t_s >= from && f.t_s < from + 600);
    if (inW.length === 0) continue;
    const first = inW[0] as SoakSample;
    const last = inW[inW.length - 1] as SoakSample;
    windows.push({ from_s: from, to_s: round(last.t_s, 0), rss_mb_start: first.rss_mb, rss_mb_end: last.rss_mb, heap_floor_mb_start: fW[0]?.mb ?? Number.NaN, heap_floor_mb_end: fW[fW.length - 1]?.mb ?? Number.NaN });
  }
  // Keeping up: the detect lag at the end is below 2 s of the rate and not growing after warm-up.
  const lastLag = samples[samples.length - 1]?.detect_lag ?? Number.POSITIVE_INFINITY;
  const keepsUp = lastLag <= 2 * o.rate || slope(after.map((s) => s.t_s), after.map((s) => s.detect_lag)) <= 0;
  const durationS = (samples[samples.length - 1]?.t_s ?? 0) as number;
  return {
    target_events_per_s: o.rate,
    achieved_events_per_s: Math.round((fleetReport?.acked ?? 0) / Math.max(1, durationS)),
    duration_s: durationS,
    warmup_s: warm,
    rss_growth_mb_per_10min: round(rssGrowth, 2),
    heap_floor_growth_mb_per_10min: round(heapGrowth, 2),
    windows,
    max_growth_mb_per_10min: o.maxGrowthMb,
    keeps_up: keepsUp,
    passed: rssGrowth <= o.maxGrowthMb && heapGrowth <= o.maxGrowthMb && keepsUp,
    samples,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '5000' },
      duration: { type: 'string', default: '30m' },
      warmup: { type: 'string' },
      'max-growth-mb': { type: 'string', default: '16' },
      out: { type: 'string', default: `${root}bench/results/soak.json` },
    },
  });
  const durationMs = parseDurationMs(values.duration as string);
  if (durationMs === undefined || durationMs < 60_000) throw new Error(`--duration: a duration of at least 1m, e.g. 30m (got ${values.duration})`);
  const warmupMs = values.warmup === undefined ? Math.min(10 * 60_000, durationMs / 3) : (parseDurationMs(values.warmup) ?? 0);
  const r = await soak({ rate: Number(values.rate), durationMs, warmupMs, maxGrowthMb: Number(values['max-growth-mb']) });
  await writeFile(values.out as string, `${JSON.stringify({ ...r, timestamp: new Date().toISOString(), command: `npm run bench:soak -- --duration ${values.duration}` }, null, 2)}\n`);
  log(`rss ${r.rss_growth_mb_per_10min} MB/10 min, heap floor ${r.heap_floor_growth_mb_per_10min} MB/10 min after ${r.warmup_s} s warm-up (limit ${r.max_growth_mb_per_10min}); achieved ${r.achieved_events_per_s} events/s; keeps up: ${r.keeps_up}`);
  log(r.passed ? 'PASS' : 'FAIL');
  process.exitCode = r.passed ? 0 : 1;
}
