/**
 * The warden for bench/abort-latency.ts, as its own process (forked with an IPC channel), as in
 * production where the agents and the warden never share an event loop: the detect stage
 * (consumers/pipeline.ts) with the real ClickHouse store for its audit rows (a fresh database,
 * dropped at the end) or, with `clickhouseUrl: null`, an in-memory sink.
 * Reports its progress and the spans topic's lag every LAG_SAMPLE_MS.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TableSink } from '../src/ingest/batch-writer.ts';
import { createPipelineConsumer } from '../consumers/pipeline.ts';
import { createKafka } from '../src/kafka/client.ts';
import { createLogger } from '../src/log.ts';
import { DEFAULT_POLICY } from '../src/policy/policy.ts';
import { migrate } from '../src/store/migrate.ts';
import { createServerStore } from '../src/store/server-store.ts';
import type { Store } from '../src/store/store.ts';
import type { StopMessage, WardenConfig, WardenReady, WardenReport } from './lib/ipc.ts';
import { instrumentKafka } from './lib/instrument.ts';
import { procSample } from './lib/proc-metrics.ts';

const LAG_SAMPLE_MS = 500;
const config = JSON.parse(process.argv[2] ?? '') as WardenConfig;
const logger = createLogger('warn');
const { kafka, timings } = instrumentKafka(createKafka({ brokers: config.brokers, clientId: 'bench-warden', ssl: false }, logger));

let store: Store | undefined;
let sink: TableSink = { insert: async () => undefined };
let sinkName = 'in-memory (rows discarded)';
if (config.clickhouseUrl !== null) {
  store = await createServerStore({ url: config.clickhouseUrl, database: config.database });
  await migrate(store);
  sink = store;
  sinkName = `clickhouse-server ${store.version.text} (database ${config.database})`;
}

const pipeline = createPipelineConsumer({
  kafka,
  sink,
  topics: config.topics,
  logger,
  policy: DEFAULT_POLICY,
  keyRing: { activeKeyId: config.keyId, keys: { [config.keyId]: config.secret } },
  groupId: config.groupId,
  heartbeatIntervalMs: config.heartbeatIntervalMs,
  // A/B switch for the mid-batch yield while a command waits (RUNWARDEN_BENCH_NO_YIELD=1 turns it off).
  yieldForCommands: process.env.RUNWARDEN_BENCH_NO_YIELD !== '1',
});
const admin = kafka.admin();
await admin.connect();
const LOOP_SAMPLE_MS = 5;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
const lateMs = (ns: number) => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS);
loopDelay.enable();
await pipeline.start();
process.send?.({ type: 'ready', sink: sinkName } satisfies WardenReady);

async function report(): Promise<void> {
  // Progress read before the end offsets: the lag errs high (by the events of one admin round trip), never low.
  const s = pipeline.stats();
  const processed = s.events + s.invalid;
  const ends = await admin.fetchTopicOffsets(config.topics.spans);
  const end = ends.reduce((sum, p) => sum + Number(p.high), 0);
  process.send?.({
    type: 'warden',
    processed,
    lag: Math.max(0, end - processed),
    liveRuns: s.liveRuns,
    commands: s.commands,
    heartbeats: s.heartbeats,
    timings: timings(),
    // The histogram holds the intervals between the 5 ms samples: the delay is what exceeds 5 ms.
    loopDelayMs: { p50: lateMs(loopDelay.percentile(50)), p99: lateMs(loopDelay.percentile(99)), max: lateMs(loopDelay.max) },
    delivery: s.delivery,
    proc: procSample(),
  } satisfies WardenReport);
  loopDelay.reset();
}
let reporting = false;
const timer = setInterval(() => {
  if (reporting) return;
  reporting = true;
  report()
    .catch((err: unknown) => logger.warn({ err }, 'bench warden: lag sample failed'))
    .finally(() => (reporting = false));
}, LAG_SAMPLE_MS);

process.on('message', (m: StopMessage) => {
  if (m.type !== 'stop') return;
  clearInterval(timer);
  void (async () => {
    await report().catch(() => undefined);
    await pipeline.stop();
    await admin.disconnect();
    if (store) {
      // A busy server may take long to drop: say which database is left rather than fail the bench.
      await store.exec(`DROP DATABASE IF EXISTS ${config.database}`).catch((err: unknown) => logger.warn({ err }, `bench warden: could not drop database ${config.database}`));
      await store.close();
    }
    process.disconnect?.();
  })();
});
