import type { Kafka } from 'kafkajs';
import type { GroupStates } from './group-states.ts';
import type { SinkName } from './stage-metrics.ts';

export interface KafkaInstrumentation {
  /** Join state of every consumer made through the client (readiness). */
  groups: GroupStates;
  /** One produce request took `seconds` (acks from every replica included). */
  sinkDuration(sink: SinkName, seconds: number): void;
}

/**
 * The same Kafka client, except that every producer and consumer it makes reports to
 * `instrumentation` through kafkajs's own instrumentation events (`producer.network.request`,
 * `consumer.group_join`, …): produce latency and group membership are measured for every stage
 * without a line in the consumers. Everything else is the original client (prototype delegation).
 */
export function instrumentKafka(kafka: Kafka, instrumentation: KafkaInstrumentation): Kafka {
  const { groups } = instrumentation;
  const client = Object.create(kafka) as Kafka;
  client.producer = (config) => {
    const producer = kafka.producer(config);
    producer.on(producer.events.REQUEST, ({ payload }) => {
      // `duration` is ms from the request being sent to its response.
      if (payload.apiName === 'Produce') instrumentation.sinkDuration('kafka_produce', payload.duration / 1_000);
    });
    return producer;
  };
  client.consumer = (config) => {
    const consumer = kafka.consumer(config);
    const groupId = config.groupId;
    groups.set(groupId, 'connecting');
    consumer.on(consumer.events.GROUP_JOIN, () => groups.set(groupId, 'joined'));
    consumer.on(consumer.events.REBALANCING, () => groups.set(groupId, 'rebalancing'));
    // A retriable crash restarts the consumer, which joins again.
    consumer.on(consumer.events.CRASH, ({ payload }) => groups.set(groupId, payload.restart ? 'connecting' : 'crashed'));
    consumer.on(consumer.events.STOP, () => groups.set(groupId, 'stopped'));
    return consumer;
  };
  return client;
}
