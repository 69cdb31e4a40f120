/**
 * Throughput with 1 % bad input against a clean stream (issue 5 item 5: within 10 %).
 *
 *   node --import tsx bench/bad-input.ts [--events 30000] [--trials 5] [--share 0.011]
 *
 * Needs Kafka and a ClickHouse server (KAFKA_BROKERS, CLICKHOUSE_URL; default the local ones).
 * Two topics are filled once: the clean fleet, and the same fleet with `share` bad messages of
 * every SPEC §6 class mixed in. Each trial runs the ingest (→ ClickHouse, DLQ) and the per-run
 * pipeline (→ commands) in this process over one topic with fresh consumer groups, from the first
 * message read until both have read every message; clean and bad trials alternate (ABAB…) so
 * that machine load hits both alike. Prints JSON with the medians and
 * `bad_input_throughput_ratio` = median over pairs of (bad msgs/s ÷ clean msgs/s).
 */
import { parseArgs } from 'node:util';
import { createIngestConsumer } from '../consumers/ingest.ts';
import { createPipelineConsumer } from '../consumers/pipeline.ts';
import { topicsWithPrefix, type Topics } from '../src/config/env.ts';
import { createKafka } from '../src/kafka/client.ts';
import { consumerLag } from '../src/kafka/lag.ts';
import { defaultTopicSpecs, ensureTopics } from '../src/kafka/topics.ts';
import { createLogger } from '../src/log.ts';
import { DEFAULT_POLICY } from '../src/policy/policy.ts';
import { mixBadInput, type StreamMessage } from '../src/sim/bad-input.ts';
import { simulateFleet } from '../src/sim/fleet.ts';
import { migrate } from '../src/store/migrate.ts';
import { createServerStore } from '../src/store/server-store.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '30000' },
    trials: { type: 'string', default: '5' },
    // Just over 1 %: the mix is exact to within one message, so the share is never below 1 %.
    share: { type: 'string', default: '0.011' },
  },
});
const events = Number(values.events);
const trials = Number(values.trials);
const share = Number(values.share);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const url = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const logger = createLogger('silent');
const keyRing = { activeKeyId: 'bench', keys: { bench: 'bench-bad-input-secret-0123' } };
const tag = Math.random().toString(16).slice(2, 10);

const kafka = createKafka({ brokers, clientId: 'bench-bad-input', ssl: false });
const admin = kafka.admin();
await admin.connect();
const store = await createServerStore({ url, database: `bench_bad_${tag}` });
await migrate(store);

const runs = Math.ceil(events / 10);
// Event time ends 10 min before now (a run starts every ~2 s): no valid event is in the future.
const fleet = simulateFleet({ runs, seed: 41, runawayShare: 0.1, startMs: Date.now() - runs * 2_000 - 600_000 }).events.slice(0, events);
const clean: StreamMessage[] = fleet.map((e) => ({ key: e.run_id, value: Buffer.from(JSON.stringify(e)) }));
const mixed = mixBadInput(fleet, { share, seed: 42, nowMs: Date.now() });
const streams = { clean: { topics: topicsWithPrefix(`bench-clean-${tag}`), messages: clean }, bad: { topics: topicsWithPrefix(`bench-bad-${tag}`), messages: mixed } };

for (const { topics, messages } of Object.values(streams)) {
  await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 200) {
    await producer.send({ topic: topics.spans, acks: -1, messages: messages.slice(i, i + 200).map(({ key, value }) => ({ key, value })) });
  }
  await producer.disconnect();
}

/** One trial: ingest + pipeline over `topics` with fresh groups; messages per second from the first read to the last. */
async function trial(topics: Topics, total: number, n: number): Promise<number> {
  const ingestGroup = `bench-ingest-${tag}-${n}`;
  const ingest = createIngestConsumer({ kafka, sink: store, topics, logger, groupId: ingestGroup });
  const pipeline = createPipelineConsumer({ kafka, sink: store, topics, logger, policy: DEFAULT_POLICY, keyRing, groupId: `bench-detect-${tag}-${n}`, forwardPartials: false, heartbeatIntervalMs: 0 });
  await Promise.all([ingest.start(), pipeline.start()]);
  const tick = () => new Promise((r) => setTimeout(r, 10));
  while (ingest.stats().consumed === 0 && pipeline.stats().events + pipeline.stats().invalid === 0) await tick();
  const t0 = performance.now();
  while (pipeline.stats().events + pipeline.stats().invalid < total || ingest.stats().consumed < total) await tick();
  await ingest.flush();
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([ingest.stop(), pipeline.stop()]);
  if ((await consumerLag(admin, ingestGroup, topics.spans)) !== 0) throw new Error('ingest did not commit everything');
  return total / seconds;
}

const pairs: Array<{ clean: number; bad: number; ratio: number }> = [];
for (let i = 0; i < trials; i++) {
  // Alternate which goes first, so a warming or cooling machine does not favour one side.
  const order = i % 2 === 0 ? (['clean', 'bad'] as const) : (['bad', 'clean'] as const);
  const r: Record<string, number> = {};
  for (const mode of order) r[mode] = await trial(streams[mode].topics, streams[mode].messages.length, pairs.length * 2 + (mode === 'bad' ? 1 : 0));
  pairs.push({ clean: r.clean as number, bad: r.bad as number, ratio: (r.bad as number) / (r.clean as number) });
  process.stderr.write(`trial ${i + 1}: clean ${Math.round(r.clean as number)} msg/s, bad ${Math.round(r.bad as number)} msg/s\n`);
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const bad = mixed.filter((m) => m.reason !== undefined).length;
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'bad-input',
      events: fleet.length,
      bad_messages: bad,
      bad_share: +(bad / mixed.length).toFixed(4),
      trials,
      clean_msgs_per_s: Math.round(median(pairs.map((p) => p.clean))),
      bad_msgs_per_s: Math.round(median(pairs.map((p) => p.bad))),
      bad_input_throughput_ratio: +median(pairs.map((p) => p.ratio)).toFixed(3),
      pairs: pairs.map((p) => ({ clean: Math.round(p.clean), bad: Math.round(p.bad), ratio: +p.ratio.toFixed(3) })),
      goal: '>= 0.9',
    },
    null,
    2,
  )}\n`,
);

await store.exec(`DROP DATABASE IF EXISTS ${store.database}`);
await store.close();
const topicNames = Object.values(streams).flatMap((s) => Object.values(s.topics));
await admin.deleteTopics({ topics: topicNames }).catch(() => undefined);
await admin.disconnect();
