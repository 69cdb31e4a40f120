/**
 * Abort latency under load (`npm run bench` runs it through bench/run.ts; alone:
 * `node --import tsx bench/abort-latency.ts [--levels 1000,5000,10000] [--aborts 1000] [--sink clickhouse|memory]
 * [--warden-node-flags='--cpu-prof --cpu-prof-dir=DIR']`).
 *
 * Three processes, as in production: this one is the agent (SDK guard, span producers), a forked
 * warden runs the detect stage (bench/warden.ts), a forked fleet produces the background load
 * (bench/fleet-producer.ts). For each load level: the fleet runs at the target rate, and ≥ 1,000
 * looping runs are triggered one at a time (~40 ms apart, jittered); each latency is measured on
 * its own, from the producer.send() call of the triggering event to the guard's RunAbortedError.
 * Interleaved with the triggers, a bare Kafka round trip (produce → a plain consumer) gives the
 * same-moment baseline the latency is divided by (this 2-core machine is noisy).
 * Prints one JSON object on stdout (or writes it to --out).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Topics, topicsWithPrefix } from '../src/config/env.ts';
import { createKafka } from '../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../src/kafka/topics.ts';
import { createLogger } from '../src/log.ts';
import { createAgent, type AbortBatch } from './lib/agent.ts';
import { forkBench } from './lib/child.ts';
import type { FleetConfig, FleetReport, WardenConfig, WardenReady, WardenReport } from './lib/ipc.ts';
import { machineBusyPct, machineSample, pidCpuMs, procLoad, procSample, servicePids, type MachineSample, type ProcSample } from './lib/proc-metrics.ts';
import { median, round, summarize, type Summary } from './lib/stats.ts';

export interface AbortLatencyOptions {
  brokers: string[];
  /** ClickHouse server for the warden's audit rows; null: the in-memory sink. */
  clickhouseUrl: string | null;
  /** Background fleet rates (events/s). */
  levels: number[];
  abortsPerLevel: number;
  /** Fleet running before the measured aborts of a level start (ms). */
  warmupMs: number;
  /** Aborts before each level's measured ones (JIT, connections), not recorded. */
  warmupAborts: number;
  runawayShare: number;
  partitions: number;
  /** The fleet's pacing: one send every this many ms. */
  tickMs: number;
  /** After the last trigger of a level, how long to wait for the aborts still to come (ms). */
  drainMs: number;
  /** Extra node flags for the warden process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, `--trace-gc`); figures taken so are not comparable. */
  wardenNodeFlags?: string[];
  log: (line: string) => void;
}

export interface LevelResult {
  target_events_per_s: number;
  achieved_events_per_s: number;
  /** Events the fleet could not send in time (dropped, not queued): 0 when the target was met. */
  fleet_skipped_events: number;
  /** What the warden processed in the window (fleet + the looping runs), events/s. */
  pipeline_events_per_s: number;
  window_s: number;
  aborts_measured: number;
  /** Aborts that had not arrived `drain_ms` after the last trigger; they count in the percentiles as the time they had waited (a lower bound). */
  aborts_lost: number;
  drain_ms: number;
  /** True when lost aborts are in the percentiles: each figure is then a lower bound. */
  abort_latency_is_lower_bound: boolean;
  /** The warden's backlog at the end of the window was under one second of the fleet's events. */
  warden_keeps_up: boolean;
  /** Aborts where check() then threw RunAbortedError (tool-loop identical_consecutive, this run). */
  aborts_verified_by_check: number;
  check_outcomes: Record<string, number>;
  pre_trigger_check_threw: Record<string, number>;
  /** Trigger send() → the guard's check() threw RunAbortedError. */
  abort_latency_ms: Summary;
  /** Trigger send() → the guard applied the abort (check() throws from then on). */
  abort_applied_ms: Summary;
  /** Trigger send() → broker ack (acks=-1): the first hop alone. */
  trigger_send_ack_ms: Summary;
  /** Bare Kafka round trip (produce acks=-1 → plain consumer), interleaved with the triggers. */
  baseline_rtt_ms: Summary;
  ratio_p50: number;
  ratio_p99: number;
  /** The path split by the command's Kafka CreateTime (ms resolution): send → warden produced the abort, and → guard. */
  path_split_ms: { trigger_to_command: Summary; command_to_guard: Summary };
  pipeline_lag_events: { median: number; max: number; samples: number };
  /** How late the warden's event loop ran a timer (ms): how long I/O (a fetch response, a send's ack) can wait behind its work. Per 500 ms sample: the median of the samples' p50 and p99, the worst p99 and the maximum. */
  warden_event_loop_delay_ms: { p50_median: number; p99_median: number; p99_max: number; max: number };
  /** Median lag divided by the achieved rate: roughly how long an event waits behind the backlog. */
  pipeline_lag_ms_estimate: number;
  warden_live_runs_at_end: number;
  warden_commands_in_window: Record<string, number>;
  /** Where the warden's wall time went (its instrumented kafkajs client, lib/instrument.ts, and the pipeline's delivery metrics). */
  warden_time: {
    /** Share of wall time inside the pipeline's eachBatch handler. */
    handler_busy_pct: number;
    /** Share of wall time the handler waited for room in the send queue (backpressure): the only send wait left on the fetch path. */
    send_queue_full_wait_pct: number;
    /** Share of wall time a sendBatch (findings and commands, acks=-1) was in flight, in the background. */
    send_in_flight_pct: number;
    sends_per_s: number;
    /** sendBatch call → ack. */
    send_ack_ms_mean: number;
    messages_per_send: number;
    /** A chunk's findings and commands queued → their sendBatch called (they wait for the send in flight). */
    send_queue_wait_ms_mean: number;
    /** Handler time minus backpressure waits, per event (µs): decode + detectors + bookkeeping. */
    processing_us_per_event: number;
    events_per_batch: number;
  };
  /** CPU in % of one core over the window; `other` is the machine's busy time not accounted to the bench or the services (other work on the machine). */
  cpu: {
    cores: number;
    machine_busy_pct_of_all_cores: number;
    warden: ReturnType<typeof procLoad>;
    fleet: ReturnType<typeof procLoad>;
    agent: ReturnType<typeof procLoad>;
    kafka_pct_of_one_core: number | null;
    clickhouse_pct_of_one_core: number | null;
    other_pct_of_one_core: number | null;
  };
}

export interface AbortLatencyResult {
  sink: string;
  warden_stages: string[];
  spans_partitions: number;
  background_runaway_share: number;
  levels: LevelResult[];
  /** Samples (not in latest.json): each abort's send time (ms from the level's start) and latency, and the warden's reports over time. */
  raw: Array<{
    target_events_per_s: number;
    latency_ms: number[];
    baseline_ms: number[];
    sent_at_ms: number[];
    warden: Array<{ at_ms: number; lag: number; loop_delay_max_ms: number; cpu_ms: number; events: number }>;
    fleet: Array<{ at_ms: number; acked: number; sends: number; cpu_ms: number }>;
  }>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

/** Runs every load level against fresh topics, a fresh consumer group and a fresh ClickHouse database. */
export async function benchAbortLatency(o: AbortLatencyOptions): Promise<AbortLatencyResult> {
  const id = uniqueName('bench');
  const topics: Topics = topicsWithPrefix(id);
  const baselineTopic = `${id}.rtt`;
  const kafka = createKafka({ brokers: o.brokers, clientId: 'bench-agent', ssl: false }, createLogger('warn'));
  await ensureTopics(kafka, [...defaultTopicSpecs(topics, o.partitions), { topic: baselineTopic, numPartitions: 1 }]);
  const keyRing = { activeKeyId: 'bench', keys: { bench: randomBytes(24).toString('hex') } };
  const agent = createAgent({ kafka, topics, baselineTopic, keyRing });
  const wardenConfig: WardenConfig = {
    brokers: o.brokers,
    clickhouseUrl: o.clickhouseUrl,
    database: id,
    topics,
    groupId: `${id}-detect`,
    keyId: keyRing.activeKeyId,
    secret: keyRing.keys.bench,
    heartbeatIntervalMs: 5_000,
  };
  const warden = forkBench<WardenReady | WardenReport>('warden.ts', wardenConfig, 'warden', o.wardenNodeFlags ?? []);
  let wardenNow: WardenReport | undefined;
  let lagSamples: number[] | undefined;
  let delaySamples: WardenReport['loopDelayMs'][] | undefined;
  let series: WardenReport[] = [];
  warden.onReport((r) => {
    if (r.type !== 'warden') return;
    wardenNow = r;
    lagSamples?.push(r.lag);
    delaySamples?.push(r.loopDelayMs);
    series.push(r);
  });

  try {
    await agent.start();
    const { sink } = await warden.first('ready');
    await agent.wardenUp(60_000);
    await warden.first('warden');
    o.log(`warden up (sink: ${sink}); topics ${id}.*`);
    await agent.runAborts(o.warmupAborts, `${id}-warm`);

    const levels: LevelResult[] = [];
    const raw: AbortLatencyResult['raw'] = [];
    for (const rate of o.levels) {
      const fleetConfig: FleetConfig = { brokers: o.brokers, topic: topics.spans, eventsPerSecond: rate, tickMs: o.tickMs, prefix: `${id}-f${rate}`, seed: rate, runawayShare: o.runawayShare };
      const fleet = forkBench<FleetReport>('fleet-producer.ts', fleetConfig, `fleet@${rate}/s`);
      let fleetNow: FleetReport | undefined;
      const fleetSeries: FleetReport[] = [];
      fleet.onReport((r) => {
        fleetNow = r;
        fleetSeries.push(r);
      });
      try {
        await fleet.first('fleet');
        await sleep(o.warmupMs);
        await agent.runAborts(o.warmupAborts, `${id}-w${rate}`);
        const start = snapshot(fleetNow, wardenNow);
        lagSamples = [];
        delaySamples = [];
        series = [];
        o.log(`level ${rate}/s: measuring ${o.abortsPerLevel} aborts (warden lag now ${wardenNow?.lag ?? '?'} events)`);
        let end: Snapshot | undefined;
        let lags: number[] = [];
        let delays: WardenReport['loopDelayMs'][] = [];
        const batch = await agent.runAborts(o.abortsPerLevel, `${id}-r${rate}`, {
          // The window (rate, lag, CPU) closes with the last trigger; the fleet stops before the
          // wait for the aborts still to come, so that a saturated warden can work off its backlog.
          afterTriggers: async () => {
            end = snapshot(fleetNow, wardenNow);
            lags = lagSamples ?? [];
            lagSamples = undefined;
            delays = delaySamples ?? [];
            delaySamples = undefined;
            await fleet.stop();
          },
          drainMs: o.drainMs,
        });
        const level = levelResult(rate, batch, start, end ?? snapshot(fleetNow, wardenNow), lags, delays, o.drainMs);
        levels.push(level);
        const t0 = start.agent.atMs;
        raw.push({
          target_events_per_s: rate,
          latency_ms: batch.aborts.map((a) => round(a.latencyMs, 3)),
          baseline_ms: batch.baselineMs.map((b) => round(b, 3)),
          sent_at_ms: batch.aborts.map((a) => Math.round(a.wallSendMs - t0)),
          warden: series.map((r) => ({ at_ms: r.proc.atMs - t0, lag: r.lag, loop_delay_max_ms: round(r.loopDelayMs.max), cpu_ms: Math.round(r.proc.cpuMs), events: r.processed })),
          fleet: fleetSeries.filter((r) => r.proc.atMs >= t0).map((r) => ({ at_ms: r.proc.atMs - t0, acked: r.acked, sends: r.sends, cpu_ms: Math.round(r.proc.cpuMs) })),
        });
        o.log(
          `level ${rate}/s: achieved ${level.achieved_events_per_s}/s, abort p50 ${level.abort_latency_ms.p50} p99 ${level.abort_latency_ms.p99} ms, ` +
            `baseline p50 ${level.baseline_rtt_ms.p50} p99 ${level.baseline_rtt_ms.p99} ms, lag median ${level.pipeline_lag_events.median} events, ` +
            `lost ${level.aborts_lost}${level.warden_keeps_up ? '' : ' (the warden does not keep up)'}`,
        );
      } finally {
        await fleet.stop();
      }
      // Let the warden drain its backlog so that levels do not bleed into each other.
      for (let i = 0; i < 600 && (wardenNow?.lag ?? 0) > 100 && rate !== o.levels.at(-1); i++) await sleep(100);
    }
    return { sink, warden_stages: ['detect'], spans_partitions: o.partitions, background_runaway_share: o.runawayShare, levels, raw };
  } finally {
    await agent.stop();
    await warden.stop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [...Object.values(topics), baselineTopic] }).catch((err: unknown) => o.log(`could not delete the bench topics: ${String(err)}`));
    await admin.disconnect();
  }
}

interface Snapshot {
  fleet: FleetReport | undefined;
  warden: WardenReport | undefined;
  agent: ProcSample;
  machine: MachineSample;
  kafkaCpuMs: number | undefined;
  clickhouseCpuMs: number | undefined;
}

const SERVICES = servicePids(fileURLToPath(new URL('..', import.meta.url)));

function snapshot(fleet: FleetReport | undefined, warden: WardenReport | undefined): Snapshot {
  return {
    fleet,
    warden,
    agent: procSample(),
    machine: machineSample(),
    kafkaCpuMs: SERVICES.kafka === undefined ? undefined : pidCpuMs(SERVICES.kafka),
    clickhouseCpuMs: SERVICES.clickhouse === undefined ? undefined : pidCpuMs(SERVICES.clickhouse),
  };
}

/** % of one core a service used between two snapshots, or null when it is not a local service. */
function servicePct(a: number | undefined, b: number | undefined, wallMs: number): number | null {
  return a === undefined || b === undefined ? null : Math.round(((b - a) / wallMs) * 100);
}

function levelResult(
  rate: number,
  batch: AbortBatch,
  start: Snapshot,
  end: Snapshot,
  lags: number[],
  delays: WardenReport['loopDelayMs'][],
  drainMs: number,
): LevelResult {
  const need = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`bench: no ${what} report in the window`);
    return x;
  };
  const [f0, f1] = [need(start.fleet, 'fleet'), need(end.fleet, 'fleet')];
  const [w0, w1] = [need(start.warden, 'warden'), need(end.warden, 'warden')];
  const fleetS = (f1.proc.atMs - f0.proc.atMs) / 1_000;
  const wardenS = (w1.proc.atMs - w0.proc.atMs) / 1_000;
  const achieved = Math.round((f1.acked - f0.acked) / fleetS);
  const lost = batch.lostWaitedMs.length;
  const latency = summarize([...batch.aborts.map((a) => a.latencyMs), ...batch.lostWaitedMs]);
  const baseline = summarize(batch.baselineMs);
  const outcomes: Record<string, number> = {};
  for (const a of batch.aborts) outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
  const commands: Record<string, number> = {};
  for (const [k, v] of Object.entries(w1.commands)) commands[k] = v - (w0.commands[k] ?? 0);
  const lagMedian = median(lags);
  const [t0, t1] = [w0.timings, w1.timings];
  const wallMs = wardenS * 1_000;
  const handlerMs = t1.handlerMs - t0.handlerMs;
  const sendMs = t1.sendMs - t0.sendMs;
  const sends = t1.sends - t0.sends;
  const [d0, d1] = [w0.delivery, w1.delivery];
  const backpressureMs = d1.backpressureMs - d0.backpressureMs;
  const load = { warden: procLoad(w0.proc, w1.proc), fleet: procLoad(f0.proc, f1.proc), agent: procLoad(start.agent, end.agent) };
  const cores = cpus().length;
  const busy = machineBusyPct(start.machine, end.machine);
  const agentWallMs = end.agent.atMs - start.agent.atMs;
  const kafkaPct = servicePct(start.kafkaCpuMs, end.kafkaCpuMs, agentWallMs);
  const clickhousePct = servicePct(start.clickhouseCpuMs, end.clickhouseCpuMs, agentWallMs);
  const ours = load.warden.cpu_pct_of_one_core + load.fleet.cpu_pct_of_one_core + load.agent.cpu_pct_of_one_core + (kafkaPct ?? 0) + (clickhousePct ?? 0);
  return {
    target_events_per_s: rate,
    achieved_events_per_s: achieved,
    fleet_skipped_events: f1.skipped - f0.skipped,
    pipeline_events_per_s: Math.round((w1.processed - w0.processed) / wardenS),
    window_s: round(fleetS, 1),
    aborts_measured: batch.aborts.length,
    aborts_lost: lost,
    drain_ms: drainMs,
    abort_latency_is_lower_bound: lost > 0,
    warden_keeps_up: w1.lag < Math.max(1_000, achieved),
    aborts_verified_by_check: batch.aborts.filter((a) => a.verified).length,
    check_outcomes: outcomes,
    pre_trigger_check_threw: batch.preCheckThrew,
    abort_latency_ms: latency,
    abort_applied_ms: summarize(batch.aborts.map((a) => a.appliedMs)),
    trigger_send_ack_ms: summarize(batch.aborts.flatMap((a) => (a.sendAckMs === undefined ? [] : [a.sendAckMs]))),
    baseline_rtt_ms: baseline,
    ratio_p50: round(latency.p50 / baseline.p50),
    ratio_p99: round(latency.p99 / baseline.p99),
    path_split_ms: {
      trigger_to_command: summarize(batch.legs.map((l) => l.toCommandMs)),
      command_to_guard: summarize(batch.legs.map((l) => l.commandToGuardMs)),
    },
    pipeline_lag_events: { median: lagMedian, max: Math.max(...lags), samples: lags.length },
    warden_event_loop_delay_ms: {
      p50_median: round(median(delays.map((d) => d.p50))),
      p99_median: round(median(delays.map((d) => d.p99))),
      p99_max: round(Math.max(...delays.map((d) => d.p99))),
      max: round(Math.max(...delays.map((d) => d.max))),
    },
    pipeline_lag_ms_estimate: Math.round((lagMedian / Math.max(1, achieved)) * 1_000),
    warden_live_runs_at_end: w1.liveRuns,
    warden_commands_in_window: commands,
    warden_time: {
      handler_busy_pct: Math.round((handlerMs / wallMs) * 100),
      send_queue_full_wait_pct: round((backpressureMs / wallMs) * 100, 1),
      send_in_flight_pct: Math.round((sendMs / wallMs) * 100),
      sends_per_s: round(sends / wardenS, 1),
      send_ack_ms_mean: round(sendMs / Math.max(1, sends)),
      messages_per_send: round((d1.messages - d0.messages) / Math.max(1, d1.sends - d0.sends), 1),
      send_queue_wait_ms_mean: round((d1.queueWaitMs - d0.queueWaitMs) / Math.max(1, d1.entries - d0.entries)),
      processing_us_per_event: round(((handlerMs - backpressureMs) * 1_000) / Math.max(1, t1.messages - t0.messages), 1),
      events_per_batch: round((t1.messages - t0.messages) / Math.max(1, t1.batches - t0.batches), 1),
    },
    cpu: {
      cores,
      machine_busy_pct_of_all_cores: busy,
      ...load,
      kafka_pct_of_one_core: kafkaPct,
      clickhouse_pct_of_one_core: clickhousePct,
      other_pct_of_one_core: kafkaPct === null ? null : Math.max(0, busy * cores - ours),
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      levels: { type: 'string', default: '1000,5000,10000' },
      aborts: { type: 'string', default: '1000' },
      sink: { type: 'string', default: 'clickhouse' },
      'warmup-ms': { type: 'string', default: '5000' },
      'runaway-share': { type: 'string', default: '0.05' },
      out: { type: 'string' },
      'warden-node-flags': { type: 'string' },
    },
  });
  if (values.sink !== 'clickhouse' && values.sink !== 'memory') throw new Error('--sink must be clickhouse or memory');
  const result = await benchAbortLatency({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean),
    clickhouseUrl: values.sink === 'memory' ? null : (process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'),
    levels: values.levels.split(',').map(Number),
    abortsPerLevel: Number(values.aborts),
    warmupMs: Number(values['warmup-ms']),
    warmupAborts: 30,
    runawayShare: Number(values['runaway-share']),
    partitions: 8,
    tickMs: 10,
    drainMs: 60_000,
    ...(values['warden-node-flags'] ? { wardenNodeFlags: values['warden-node-flags'].split(' ').filter(Boolean) } : {}),
    log: (line) => process.stderr.write(`[abort-latency] ${line}\n`),
  });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (values.out) await writeFile(values.out, json);
  else process.stdout.write(json);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
