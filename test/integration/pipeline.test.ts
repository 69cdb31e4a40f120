import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import type { ChildProcess } from 'node:child_process';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPipelineConsumer, type PipelineStats } from '../../consumers/pipeline.ts';
import type { ControlCommand } from '../../src/contracts/control.ts';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import type { KeyRing } from '../../src/control/sign.ts';
import { createPerRunStage } from '../../src/engine/per-run-stage.ts';
import { parseCommitMetadata } from '../../src/engine/partition-progress.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/log.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { spanEventSchema } from '../../src/contracts/span.ts';
import { migrate } from '../../src/store/migrate.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { readTopicToEnd } from '../support/read-topic.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { spawnWarden, until } from '../support/warden-process.ts';

const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'pipeline-test-secret-0123456789' } };

/** What `runwarden replay` computes for the same events: the reference output. */
function expected(events: readonly SpanEventInput[]) {
  const stage = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
  const findings = new Set<string>();
  const commands = new Map<string, string>();
  for (const input of events) {
    for (const { finding, command } of stage.apply(spanEventSchema.parse(input))) {
      findings.add(finding.finding_id);
      if (command) commands.set(command.command_id, JSON.stringify(command));
    }
  }
  return { findings, commands };
}

async function produce(kafka: Kafka, topic: string, events: readonly SpanEventInput[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 500) {
    await producer.send({ topic, acks: -1, messages: events.slice(i, i + 500).map((e) => ({ key: e.run_id, value: JSON.stringify(e) })) });
  }
  await producer.disconnect();
}

/** Non-heartbeat commands on the control topic, by command_id, and how many messages carried them. */
async function commandsOnTopic(kafka: Kafka, topic: string) {
  const byId = new Map<string, string>();
  let messages = 0;
  let heartbeats = 0;
  for (const m of await readTopicToEnd(kafka, topic, 60_000)) {
    const command = JSON.parse(m.value.toString()) as ControlCommand;
    if (command.action === 'heartbeat') {
      heartbeats++;
      continue;
    }
    messages++;
    byId.set(command.command_id, m.value.toString());
  }
  return { byId, messages, heartbeats };
}

const idRows = z.object({ id: z.string() });

describe('the detection pipeline on the real broker and ClickHouse', () => {
  let kafka: Kafka;
  let store: Store;
  const database = uniqueName('rw_pipe');

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-test', ssl: false });
    store = await createServerStore({ url: clickhouseUrl(), database });
    await migrate(store);
  });

  afterAll(async () => {
    await store.exec(`DROP DATABASE IF EXISTS ${database}`);
    await store.close();
  });

  it('sends exactly the signed commands replay computes, audits them, and heartbeats', async () => {
    const id = uniqueName('pipe');
    const topics = topicsWithPrefix(id);
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    const fleet = simulateFleet({ runs: 400, seed: 5, startMs: Date.now() - 3_600_000, runawayShare: 0.1 });
    // Duplicates (a producer retry) and a bad message must change nothing.
    const events = [...fleet.events, ...fleet.events.slice(0, 50)];
    const want = expected(events);
    expect(want.commands.size).toBeGreaterThan(10);

    let reached!: () => void;
    const done = new Promise<void>((r) => (reached = r));
    const pipeline = createPipelineConsumer({
      kafka,
      sink: store,
      topics,
      logger: createLogger('warn'),
      policy: DEFAULT_POLICY,
      keyRing,
      groupId: `${id}-detect`,
      heartbeatIntervalMs: 200,
      onProgress: (s: Readonly<PipelineStats>) => {
        if (s.events + s.invalid >= events.length + 1) reached();
      },
    });
    await pipeline.start();
    const t0 = Date.now();
    await produce(kafka, topics.spans, events);
    const bad = kafka.producer();
    await bad.connect();
    await bad.send({ topic: topics.spans, messages: [{ key: 'x', value: '{not json' }] });
    await bad.disconnect();
    await done;
    const ms = Date.now() - t0;
    await pipeline.stop();
    const stats = pipeline.stats();
    process.stderr.write(`[pipeline] ${events.length} events in ${ms} ms = ${Math.round((events.length * 1000) / ms)} events/s (produce + detect + deliver)\n`);

    expect(stats.duplicates).toBe(50);
    expect(stats.invalid).toBe(1);
    expect(stats.heartbeats).toBeGreaterThan(0);
    const onTopic = await commandsOnTopic(kafka, topics.control);
    expect([...onTopic.byId.keys()].sort()).toEqual([...want.commands.keys()].sort());
    // Byte-identical to replay: same ids, same signatures, same reasons.
    for (const [commandId, json] of want.commands) expect(onTopic.byId.get(commandId)).toBe(json);
    expect(onTopic.messages).toBe(want.commands.size);
    expect(onTopic.heartbeats).toBeGreaterThan(0);

    const audited = await store.query(`SELECT command_id AS id FROM control_commands FINAL WHERE source = 'pipeline'`, idRows);
    expect(audited.map((r) => r.id).sort()).toEqual([...want.commands.keys()].sort());
    const findings = await store.query(`SELECT finding_id AS id FROM findings FINAL`, idRows);
    expect(findings.map((r) => r.id).sort()).toEqual([...want.findings].sort());
  });

  it('SIGKILL mid-stream and restart: every command exactly as one clean pass, none lost', async () => {
    const id = uniqueName('pipecrash');
    const topics = topicsWithPrefix(id);
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    const crashDb = uniqueName('rw_pipecrash');
    const fleet = simulateFleet({ runs: 1_200, seed: 23, startMs: Date.now() - 3_600_000, runawayShare: 0.1 });
    const want = expected(fleet.events);
    // The warden reads a live stream: a first part is there before it starts, then a trickle,
    // and the last RESERVE events come only once it was killed, so that the kill lands mid-stream
    // (live runs span it, events processed since the last commit) however fast the warden is.
    const FIRST_PART = 6_000;
    const RESERVE = 1_000;
    const events = fleet.events;
    await produce(kafka, topics.spans, events.slice(0, FIRST_PART));
    const groupId = `${id}-detect`;
    const env = {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      CLICKHOUSE_URL: clickhouseUrl(),
      CLICKHOUSE_DATABASE: crashDb,
      ...topicsEnv(topics),
      RUNWARDEN_HMAC_KEYS: `k1:${keyRing.keys['k1']}`,
      LOG_LEVEL: 'warn',
    };
    const warden = (): ChildProcess => spawnWarden(['start', '--stages', 'detect', '--group-prefix', id], env);
    const admin = kafka.admin();
    await admin.connect();
    /** Processed high-water marks in the committed metadata, summed over partitions. */
    const processed = async () => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topics.spans] });
      let n = 0n;
      for (const p of entry?.partitions ?? []) n += parseCommitMetadata(p.metadata) ?? 0n;
      return n;
    };
    const total = BigInt(events.length);

    try {
      let killed = false;
      let next = FIRST_PART;
      const trickle = (async () => {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await producer.connect();
        try {
          while (!killed && next < events.length - RESERVE) {
            const upto = Math.min(next + 100, events.length - RESERVE);
            await producer.send({ topic: topics.spans, acks: -1, messages: events.slice(next, upto).map((e) => ({ key: e.run_id, value: JSON.stringify(e) })) });
            next = upto;
            await new Promise((r) => setTimeout(r, 100));
          }
        } finally {
          await producer.disconnect();
        }
      })();
      const first = warden();
      const exited = new Promise((r) => first.once('exit', r));
      // Kill once a commit landed while the warden reads the trickle: live runs span the crash.
      await until('a first commit past the first part', async () => (await processed()) > BigInt(FIRST_PART), 120_000);
      first.kill('SIGKILL');
      killed = true;
      await exited;
      await trickle;
      const atCrash = await processed();
      expect(atCrash).toBeLessThan(total);
      await produce(kafka, topics.spans, events.slice(next));
      const ends = await admin.fetchTopicOffsets(topics.spans);
      expect(ends.reduce((n, p) => n + BigInt(p.high), 0n)).toBe(total);

      const second = warden();
      const stopped = new Promise((r) => second.once('exit', r));
      await until('everything processed', async () => (await processed()) >= total, 120_000);
      second.kill('SIGTERM');
      await stopped;

      const onTopic = await commandsOnTopic(kafka, topics.control);
      expect([...onTopic.byId.keys()].sort()).toEqual([...want.commands.keys()].sort());
      for (const [commandId, json] of want.commands) expect(onTopic.byId.get(commandId)).toBe(json);
      process.stderr.write(
        `[pipeline-crash] killed at ${atCrash}/${total} events; ${onTopic.messages} command messages for ${want.commands.size} commands (re-sent after the crash: ${onTopic.messages - want.commands.size})\n`,
      );
      const crashStore = await createServerStore({ url: clickhouseUrl(), database: crashDb });
      try {
        const audited = await crashStore.query(`SELECT command_id AS id FROM control_commands FINAL`, idRows);
        expect(audited.map((r) => r.id).sort()).toEqual([...want.commands.keys()].sort());
        const findings = await crashStore.query(`SELECT finding_id AS id FROM findings FINAL`, idRows);
        expect(findings.map((r) => r.id).sort()).toEqual([...want.findings].sort());
      } finally {
        await crashStore.exec(`DROP DATABASE IF EXISTS ${crashDb}`);
        await crashStore.close();
      }
    } finally {
      await admin.disconnect();
    }
  });
});
