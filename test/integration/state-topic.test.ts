import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../src/kafka/client.ts';
import { readLatestByKey } from '../../src/kafka/latest-by-key.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { kafkaBrokers, uniqueName } from '../support/services.ts';

describe('readLatestByKey (checkpoint restore) on the real broker', () => {
  let kafka: Kafka;
  const topic = uniqueName('state');

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-test', ssl: false });
    await ensureTopics(kafka, [{ topic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('keeps the latest committed value per key: later values win, tombstones delete, aborted transactions never count', async () => {
    const producer = kafka.producer({ transactionalId: uniqueName('tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({
        topic,
        messages: [
          { key: 'g/0', value: 'v1', partition: 0 },
          { key: 'g/1', value: 'v1', partition: 1 },
          { key: 'g/2', value: 'gone', partition: 0 },
          { key: 'other/0', value: 'x', partition: 1 },
        ],
      });
      await committed.commit();
      const later = await producer.transaction();
      await later.send({ topic, messages: [{ key: 'g/0', value: 'v2', partition: 0 }, { key: 'g/2', value: null, partition: 0 }] });
      await later.commit();
      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ key: 'g/1', value: 'never', partition: 1 }] });
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }

    // The last offset of each partition is a transaction marker, never delivered as a message: the
    // reader must still see that it reached the end.
    const latest = await readLatestByKey(kafka, topic, { timeoutMs: 30_000, keep: (key) => key.startsWith('g/') });
    expect(Object.fromEntries([...latest].map(([k, v]) => [k, v.toString()]))).toEqual({ 'g/0': 'v2', 'g/1': 'v1' });
  });

  it('returns nothing for an empty topic without waiting', async () => {
    const empty = uniqueName('state_empty');
    await ensureTopics(kafka, [{ topic: empty, numPartitions: 1 }]);
    expect((await readLatestByKey(kafka, empty, { timeoutMs: 5_000 })).size).toBe(0);
  });
});
