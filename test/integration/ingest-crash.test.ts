import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { z } from 'zod';
import { createKafka } from '../../src/kafka/client.ts';
import { waitForCatchUp } from '../../src/kafka/lag.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { spawnWarden, until } from '../support/warden-process.ts';

const countSchema = z.object({ n: z.coerce.number() });

/** `runwarden start` as a real process, pointed at this test's topics and database. */
const startWarden = (env: Record<string, string>): ChildProcess => spawnWarden(['start', '--stages', 'ingest'], { ...process.env, ...env, LOG_LEVEL: 'warn' });

describe('ingestion survives SIGKILL mid-stream without duplicate or missing rows', () => {
  let kafka: Kafka;
  let store: Store;
  const id = uniqueName('crash');
  const topics = topicsWithPrefix(id);
  const database = uniqueName('rw_crash');
  const env = {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    CLICKHOUSE_URL: clickhouseUrl(),
    CLICKHOUSE_DATABASE: database,
    ...topicsEnv(topics),
  };

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-test', ssl: false });
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    store = await createServerStore({ url: clickhouseUrl(), database });
  });

  afterAll(async () => {
    await store.exec(`DROP DATABASE IF EXISTS ${database}`);
    await store.close();
  });

  it('kill -9 after the first rows landed, restart, and every event is there exactly once', async () => {
    const fleet = simulateFleet({ runs: 1_500, seed: 11, startMs: Date.now() - 4 * 3_600_000 });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < fleet.events.length; i += 1_000) {
      const batch = fleet.events.slice(i, i + 1_000).map((e) => ({ key: e.run_id, value: JSON.stringify(e) }));
      await producer.send({ topic: topics.spans, acks: -1, messages: batch });
    }
    await producer.disconnect();

    const first = startWarden(env);
    const exited = new Promise<void>((resolve) => first.once('exit', () => resolve()));
    // Kill once some rows are in ClickHouse but well before the stream is done.
    await until(
      'the first rows in ClickHouse',
      async () => {
        try {
          const [r] = await store.query(`SELECT count() AS n FROM ${database}.spans`, countSchema);
          return (r?.n ?? 0) > 0;
        } catch {
          return false; // the database does not exist until the warden has migrated
        }
      },
      60_000,
    );
    first.kill('SIGKILL');
    await exited;
    const [partial] = await store.query(`SELECT count() AS n FROM ${database}.spans FINAL`, countSchema);
    expect(partial!.n).toBeLessThan(fleet.events.length);

    const second = startWarden(env);
    try {
      const admin = kafka.admin();
      await admin.connect();
      await waitForCatchUp(admin, 'runwarden-ingest', topics.spans, 90_000);
      await admin.disconnect();
    } finally {
      const done = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
      second.kill('SIGTERM');
      expect(await done).toBe(0);
    }

    const [final] = await store.query(`SELECT count() AS n FROM ${database}.spans FINAL`, countSchema);
    expect(final!.n).toBe(fleet.events.length);
    // Merge away re-delivered copies: afterwards not even the raw table holds a duplicate.
    await store.exec(`OPTIMIZE TABLE ${database}.spans FINAL`);
    const [raw] = await store.query(`SELECT count() AS n FROM ${database}.spans`, countSchema);
    expect(raw!.n).toBe(fleet.events.length);
    const [runs] = await store.query(`SELECT count() AS n FROM ${database}.runs`, countSchema);
    expect(runs!.n).toBe(fleet.runs.length);
    const calls = fleet.events.filter((e) => e.kind === 'llm_call').length;
    const [llm] = await store.query(`SELECT sum(llm_calls) AS n FROM ${database}.runs`, countSchema);
    expect(llm!.n).toBe(calls);
  });
});
