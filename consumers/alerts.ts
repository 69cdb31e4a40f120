import type { Consumer, Kafka } from 'kafkajs';
import { createAlertRouter } from '../src/alerts/alert-router.ts';
import type { AlertsPolicy } from '../src/alerts/alerts-policy.ts';
import { createWebhookSink, type AlertSink, type FetchLike } from '../src/alerts/webhook-sink.ts';
import type { Topics } from '../src/config/env.ts';
import { findingSchema } from '../src/contracts/finding.ts';
import type { Logger } from '../src/log.ts';
import type { AlertMetrics, StageMetrics } from '../src/metrics/stage-metrics.ts';

export interface AlertsConsumerOptions {
  kafka: Kafka;
  topics: Pick<Topics, 'findings'>;
  logger: Logger;
  /** With `${NAME}` references already expanded (src/alerts/expand-env.ts). */
  alerts: AlertsPolicy;
  groupId?: string;
  /** Default false: a new deployment alerts on findings from now on, not on the topic's history. */
  fromBeginning?: boolean;
  fetch?: FetchLike;
  now?: () => number;
  metrics?: AlertMetrics & Pick<StageMetrics, 'consumed'>;
}

export interface AlertsConsumerStats {
  findings: number;
  invalid: number;
  routed: number;
  suppressed: number;
}

export interface AlertsConsumer {
  start(): Promise<void>;
  /** Written order: stop fetching, commit, disconnect, then drain the sinks (bounded grace). */
  stop(): Promise<void>;
  stats(): AlertsConsumerStats;
  /** Resolves when every sink's queue is empty (tests). */
  idle(): Promise<void>;
}

/**
 * The `alerts` stage: reads runwarden.findings in its own consumer group, off the detection path,
 * and routes each finding to the webhook sinks of the policy. Delivery is best effort by design:
 * queues are bounded and offsets are committed as findings are routed, so a slow or dead webhook
 * can neither hold detection nor grow memory; every drop and failure is counted in the metrics.
 */
export function createAlertsConsumer(options: AlertsConsumerOptions): AlertsConsumer {
  const { kafka, topics, logger, alerts, metrics } = options;
  const log = logger.child({ component: 'alerts' });
  const groupId = options.groupId ?? 'runwarden-alerts';
  const sinks = new Map<string, AlertSink>(
    alerts.sinks.map((config) => [
      config.name,
      createWebhookSink({ config, queueSize: alerts.queue_size, logger, ...(metrics ? { metrics } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) }),
    ]),
  );
  const router = createAlertRouter({ policy: alerts, sinks, ...(options.now ? { now: options.now } : {}), ...(metrics ? { metrics } : {}) });
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 15_000, heartbeatInterval: 1_500, maxWaitTimeInMs: 500 });
  const stats: AlertsConsumerStats = { findings: 0, invalid: 0, routed: 0, suppressed: 0 };

  function handle(value: Buffer | null): void {
    let parsed;
    try {
      parsed = findingSchema.safeParse(JSON.parse(value?.toString('utf8') ?? ''));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      stats.invalid++;
      log.warn('a message on the findings topic is not a finding; skipped');
      return;
    }
    stats.findings++;
    const { verdict, sinks: to } = router.route(parsed.data);
    if (verdict !== 'new') stats.suppressed++;
    if (to.length > 0) stats.routed++;
  }

  return {
    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic: topics.findings, fromBeginning: options.fromBeginning ?? false });
      await consumer.run({
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          let handled = 0;
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            handle(message.value);
            resolveOffset(message.offset);
            handled++;
          }
          metrics?.consumed('alerts', handled);
          await heartbeat();
        },
      });
      log.info({ groupId, topic: topics.findings, sinks: [...sinks.keys()] }, 'alerts consumer started');
    },
    async stop() {
      await consumer.stop();
      await consumer.disconnect();
      await Promise.all([...sinks.values()].map((s) => s.close()));
      log.info({ stats }, 'alerts consumer stopped');
    },
    stats: () => ({ ...stats }),
    idle: async () => {
      await Promise.all([...sinks.values()].map((s) => s.idle()));
    },
  };
}
