import { performance } from 'node:perf_hooks';
import type { Kafka } from 'kafkajs';

/** Where the warden's time goes, cumulative (ms and counts). */
export interface WardenTimings {
  /** Time inside the pipeline's eachBatch handler, and what it handled. */
  handlerMs: number;
  batches: number;
  messages: number;
  /** producer.sendBatch calls (findings and commands, acks=-1) and their time from call to ack; in the background since the pipeline stopped awaiting them. */
  sendMs: number;
  sends: number;
}

/**
 * Wraps a kafkajs client so that the consumers and producers it makes time the pipeline's
 * eachBatch handler and its sendBatch calls. Only the bench uses it: the pipeline itself is
 * untouched, it just receives this client.
 */
export function instrumentKafka(kafka: Kafka): { kafka: Kafka; timings: () => WardenTimings } {
  const t: WardenTimings = { handlerMs: 0, batches: 0, messages: 0, sendMs: 0, sends: 0 };
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  kafka.producer = (config) => {
    const p = producer(config);
    const sendBatch = p.sendBatch.bind(p);
    p.sendBatch = async (batch) => {
      const start = performance.now();
      try {
        return await sendBatch(batch);
      } finally {
        t.sendMs += performance.now() - start;
        t.sends++;
      }
    };
    return p;
  };
  kafka.consumer = (config) => {
    const c = consumer(config);
    const run = c.run.bind(c);
    c.run = (config) => {
      const eachBatch = config?.eachBatch;
      if (!eachBatch) return run(config);
      return run({
        ...config,
        eachBatch: async (payload) => {
          const start = performance.now();
          try {
            await eachBatch(payload);
          } finally {
            t.handlerMs += performance.now() - start;
            t.batches++;
            t.messages += payload.batch.messages.length;
          }
        },
      });
    };
    return c;
  };
  return { kafka, timings: () => ({ ...t }) };
}
