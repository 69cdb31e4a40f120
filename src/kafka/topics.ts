import type { Kafka } from 'kafkajs';
import type { Topics } from '../config/env.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Kafka topic configs, e.g. cleanup.policy=compact. */
  configEntries?: Array<{ name: string; value: string }>;
}

/** Largest checkpoint message (one partition's cohort state): the checkpoint topic's max.message.bytes. */
export const CHECKPOINT_MAX_BYTES = 64 * 1024 * 1024;

/** The topics runwarden needs, with partition counts that let each stage scale out. */
export function defaultTopicSpecs(topics: Topics, partitions = 8): TopicSpec[] {
  return [
    { topic: topics.spans, numPartitions: partitions },
    { topic: topics.dlq, numPartitions: 1 },
    { topic: topics.control, numPartitions: 1 },
    { topic: topics.findings, numPartitions: 1 },
    { topic: topics.partials, numPartitions: partitions },
    // One snapshot per (cohort group, partition) per checkpoint: compacted, and allowed to be large.
    {
      topic: topics.checkpoints,
      numPartitions: 1,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'max.message.bytes', value: String(CHECKPOINT_MAX_BYTES) },
      ],
    },
  ];
}

/** Creates the topics that do not exist yet; existing ones are left as they are. */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.numPartitions, replicationFactor: -1, configEntries: s.configEntries ?? [] })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}
