/**
 * Background fleet for bench/abort-latency.ts, as its own process (forked with an IPC channel):
 * a paced producer that sends `eventsPerSecond` span events in one batch every `tickMs`, with
 * the SDK emitter's settings (acks from all replicas). When the producer cannot keep the pace,
 * at most a second of backlog is kept and the rest is skipped and counted, so the achieved rate
 * it reports is what the broker acknowledged, never the target.
 */
import { createKafka } from '../src/kafka/client.ts';
import { createFleetStream } from './lib/fleet-stream.ts';
import type { FleetConfig, FleetReport, StopMessage } from './lib/ipc.ts';
import { procSample } from './lib/proc-metrics.ts';

const config = JSON.parse(process.argv[2] ?? '') as FleetConfig;
const REPORT_MS = 500;
/** Sends in flight at once; past it a tick waits (the deficit carries over, up to MAX_BACKLOG_S). */
const MAX_IN_FLIGHT = 4;
const MAX_BACKLOG_S = 1;

const kafka = createKafka({ brokers: config.brokers, clientId: 'bench-fleet', ssl: false });
const producer = kafka.producer();
const stream = createFleetStream({ prefix: config.prefix, seed: config.seed, runawayShare: config.runawayShare });
let acked = 0;
let skipped = 0;
let sends = 0;
let scheduled = 0;
let inFlight = 0;
let failed: unknown;

const send = () => process.send?.({ type: 'fleet', acked, skipped, sends, proc: procSample() } satisfies FleetReport);

await producer.connect();
const startMs = Date.now();
const tick = setInterval(() => {
  const now = Date.now();
  let due = Math.floor(((now - startMs) * config.eventsPerSecond) / 1_000) - scheduled - skipped;
  const cap = config.eventsPerSecond * MAX_BACKLOG_S;
  if (due > cap) {
    skipped += due - cap;
    due = cap;
  }
  if (due <= 0 || inFlight >= MAX_IN_FLIGHT) return;
  const messages = [];
  for (let i = 0; i < due; i++) messages.push(stream.next(now));
  scheduled += due;
  inFlight++;
  sends++;
  producer
    .send({ topic: config.topic, acks: -1, messages })
    .then(() => (acked += messages.length))
    .catch((err: unknown) => (failed = err))
    .finally(() => inFlight--);
}, config.tickMs);
const report = setInterval(() => send(), REPORT_MS);

process.on('message', (m: StopMessage) => {
  if (m.type !== 'stop') return;
  clearInterval(tick);
  void (async () => {
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    clearInterval(report);
    send();
    await producer.disconnect();
    if (failed) process.stderr.write(`[fleet] a send failed: ${String(failed)}\n`);
    process.disconnect?.();
  })();
});
