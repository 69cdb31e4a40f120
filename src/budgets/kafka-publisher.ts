import type { Message, Producer } from 'kafkajs';
import type { Topics } from '../config/env.ts';
import type { BudgetPublisher } from './budget-job.ts';

/**
 * Publishes a check's findings to the findings topic and its signed commands to the control
 * topic, keyed by scope id, in one batch acknowledged by every replica. Give it the reliable
 * producer (src/kafka/client.ts): idempotent, one request in flight.
 */
export function createKafkaPublisher(producer: Producer, topics: Pick<Topics, 'findings' | 'control'>): BudgetPublisher {
  return async (findings, commands) => {
    const topicMessages: Array<{ topic: string; messages: Message[] }> = [];
    if (findings.length > 0) topicMessages.push({ topic: topics.findings, messages: findings.map((f) => ({ key: f.scope.id, value: JSON.stringify(f) })) });
    if (commands.length > 0) topicMessages.push({ topic: topics.control, messages: commands.map((c) => ({ key: c.scope.id, value: JSON.stringify(c) })) });
    if (topicMessages.length > 0) await producer.sendBatch({ acks: -1, topicMessages });
  };
}
