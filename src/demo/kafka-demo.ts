import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { createCohortConsumer } from '../../consumers/cohort.ts';
import { createIngestConsumer } from '../../consumers/ingest.ts';
import { createPipelineConsumer } from '../../consumers/pipeline.ts';
import type { Topics } from '../config/env.ts';
import { controlCommandSchema } from '../contracts/control.ts';
import { findingSchema } from '../contracts/finding.ts';
import type { KeyRing } from '../control/sign.ts';
import { decodeSpan, DEFAULT_MAX_FUTURE_MS } from '../ingest/decode.ts';
import { waitForCatchUp } from '../kafka/lag.ts';
import type { Logger } from '../log.ts';
import type { Policy } from '../policy/policy.ts';
import type { Store } from '../store/store.ts';
import type { DemoFleet } from './demo-fleet.ts';
import { createDemoTally, type DemoSummary } from './demo-tally.ts';
import type { DemoHooks } from './embedded-demo.ts';

export interface KafkaDemoOptions extends DemoHooks {
  fleet: DemoFleet;
  kafka: Kafka;
  topics: Topics;
  /** A migrated store the ingest, detect and cohort stages write to. */
  store: Store;
  policy: Policy;
  keyRing: KeyRing;
  logger: Logger;
  badMessages: readonly string[];
  /** Give up waiting for the stages after this long (ms). */
  timeoutMs: number;
}

const PRODUCE_BATCH = 2_000;

/**
 * The demo through Kafka: the events are produced to the spans topic, and the real stages of
 * `runwarden start` (ingest, detect, cohort) consume them, write ClickHouse and send findings
 * and signed commands, which a watcher reads back off the findings and control topics as they
 * arrive. Every consumer group is new and starts at the current end of its topic, so the demo
 * sees only its own traffic.
 */
export async function runKafkaDemo(o: KafkaDemoOptions): Promise<DemoSummary> {
  const tag = `runwarden-demo-${Date.now()}-${randomUUID().slice(0, 8)}`;
  const groups = { ingest: `${tag}-ingest`, detect: `${tag}-detect`, cohort: `${tag}-cohort`, watch: `${tag}-watch` };
  const tally = createDemoTally(o.policy.pricing);
  const admin = o.kafka.admin();
  await admin.connect();
  const stops: Array<() => Promise<void>> = [];
  try {
    await startAtEnd(admin, groups.ingest, o.topics.spans);
    await startAtEnd(admin, groups.detect, o.topics.spans);
    await startAtEnd(admin, groups.cohort, o.topics.partials);
    await startAtEnd(admin, groups.watch, o.topics.control);
    await startAtEnd(admin, groups.watch, o.topics.findings);

    let watched = { findings: 0, commands: 0 };
    const watch = o.kafka.consumer({ groupId: groups.watch });
    await watch.connect();
    stops.push(() => watch.disconnect());
    await watch.subscribe({ topics: [o.topics.control, o.topics.findings], fromBeginning: false });
    await watch.run({
      eachMessage: async ({ topic, message }) => {
        const value: unknown = JSON.parse(message.value?.toString('utf8') ?? 'null');
        if (topic === o.topics.findings) {
          const f = findingSchema.safeParse(value);
          if (!f.success) return;
          watched = { ...watched, findings: watched.findings + 1 };
          const line = tally.finding(f.data);
          if (line) o.onLine(line);
          return;
        }
        const c = controlCommandSchema.safeParse(value);
        if (!c.success || c.data.action === 'heartbeat') return;
        watched = { ...watched, commands: watched.commands + 1 };
        const line = tally.command(c.data);
        if (line) o.onLine(line);
      },
    });

    const messages: Array<{ key: string; value: string }> = [];
    const decodeOptions = { nowMs: Date.now(), maxFutureMs: DEFAULT_MAX_FUTURE_MS };
    for (const e of o.fleet.events()) {
      const value = JSON.stringify(e);
      messages.push({ key: e.run_id, value });
      // The tally's event side (runs, spend) is counted here; the stages count for themselves.
      const decoded = decodeSpan(value, decodeOptions);
      if (decoded.ok) tally.event(decoded.event);
    }
    for (const value of o.badMessages) {
      messages.push({ key: 'bad', value });
      const decoded = decodeSpan(value, decodeOptions);
      if (!decoded.ok) tally.bad(decoded.reason);
    }

    let detected = 0;
    const ingest = createIngestConsumer({ kafka: o.kafka, sink: o.store, topics: o.topics, logger: o.logger, groupId: groups.ingest, priceTable: o.policy.pricing });
    const pipeline = createPipelineConsumer({
      kafka: o.kafka,
      sink: o.store,
      topics: o.topics,
      logger: o.logger,
      policy: o.policy,
      keyRing: o.keyRing,
      groupId: groups.detect,
      heartbeatIntervalMs: 1_000,
      onProgress: (s) => {
        detected = s.events + s.invalid;
        o.onProgress(detected / messages.length, `${detected.toLocaleString('en-US')} of ${messages.length.toLocaleString('en-US')} messages detected`);
      },
    });
    const cohort = createCohortConsumer({ kafka: o.kafka, sink: o.store, topics: o.topics, logger: o.logger, policy: o.policy, keyRing: o.keyRing, groupId: groups.cohort, checkpointIntervalMs: 2_000 });
    await Promise.all([ingest.start(), pipeline.start(), cohort.start()]);
    const stopped = { pipeline: false, cohort: false };
    stops.push(
      () => ingest.stop(),
      () => (stopped.cohort ? Promise.resolve() : cohort.stop()),
      () => (stopped.pipeline ? Promise.resolve() : pipeline.stop()),
    );

    const producer = o.kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < messages.length; i += PRODUCE_BATCH) {
        await producer.send({ topic: o.topics.spans, acks: -1, messages: messages.slice(i, i + PRODUCE_BATCH) });
      }
    } finally {
      await producer.disconnect();
    }

    const deadline = Date.now() + o.timeoutMs;
    await until(() => detected >= messages.length, deadline, 'the detect stage to read every message');
    // Stopping detect sends its last partials (in a transaction with its offsets) and every pending command.
    stopped.pipeline = true;
    await pipeline.stop();
    const forwarded = pipeline.stats().partials;
    await until(() => cohort.stats().partials + cohort.stats().skipped >= forwarded, deadline, 'the cohort stage to apply every partial');
    await waitForCatchUp(admin, groups.ingest, o.topics.spans, Math.max(1_000, deadline - Date.now()));
    const p = pipeline.stats();
    stopped.cohort = true;
    await cohort.stop();
    const c = cohort.stats();
    const sent = Object.entries(p.commands).reduce((n, [a, k]) => n + (a === 'heartbeat' ? 0 : k), 0) + Object.values(c.commands).reduce((n, k) => n + k, 0);
    await until(() => watched.commands >= sent && watched.findings >= p.findings + c.findings, deadline, 'the findings and commands to arrive on their topics');
    return { ...tally.summary(), duplicates: p.duplicates };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => o.logger.warn({ err }, 'demo: stopping a consumer failed'));
    await admin.disconnect();
  }
}

/** A new group's committed offsets at the topic's current end: it reads only what comes next. */
async function startAtEnd(admin: Admin, groupId: string, topic: string): Promise<void> {
  const ends = await retryWhileRetriable(() => admin.fetchTopicOffsets(topic), 15_000);
  await admin.setOffsets({ groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
}

async function until(done: () => boolean, deadline: number, what: string): Promise<void> {
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Retries what fails with a retriable Kafka error (a topic just created has no leader yet) for up to `forMs`. */
async function retryWhileRetriable<T>(fn: () => Promise<T>, forMs: number): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
