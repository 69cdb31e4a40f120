import type { Admin, Kafka } from 'kafkajs';
import type { MetricsConfig } from '../config/env.ts';
import type { TableSink } from '../ingest/batch-writer.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import { createGroupStates } from './group-states.ts';
import { instrumentKafka } from './instrument-kafka.ts';
import { createLagSource, type WatchedGroup } from './lag-source.ts';
import { createMetricsServer, type MetricsServer } from './metrics-server.ts';
import { createReadinessCheck } from './readiness.ts';
import { timedSink } from './timed-sink.ts';
import { createWardenMetrics, type WardenMetrics } from './warden-metrics.ts';

export interface ObservabilityOptions {
  config: MetricsConfig;
  /** Pinged by /readyz. */
  store: Pick<Store, 'query'>;
  logger: Logger;
}

/** What `runwarden start` wires into its stages when the metrics endpoint is on. */
export interface Observability {
  readonly metrics: WardenMetrics;
  /** The client the stages use: produce latency and group membership reported. */
  instrument(kafka: Kafka): Kafka;
  /** The sink the stages write to: insert latency reported. */
  sink(sink: TableSink): TableSink;
  /** Listens on the configured address and reads the lag of `groups` at each scrape. */
  start(kafka: Kafka, groups: readonly WatchedGroup[]): Promise<{ host: string; port: number }>;
  /** Closes the endpoint (last, after the stages stopped: a scraper sees the drain). */
  stop(): Promise<void>;
}

/** The composition root of src/metrics: registry, readiness, lag and the HTTP endpoint. */
export function createObservability(options: ObservabilityOptions): Observability {
  const log = options.logger.child({ component: 'metrics' });
  const metrics = createWardenMetrics();
  const groups = createGroupStates();
  let server: MetricsServer | undefined;
  let admin: Admin | undefined;
  return {
    metrics,
    instrument: (kafka) => instrumentKafka(kafka, { groups, sinkDuration: metrics.sinkDuration }),
    sink: (sink) => timedSink(sink, metrics),
    async start(kafka, watched) {
      server = createMetricsServer({
        host: options.config.host,
        port: options.config.port,
        render: () => metrics.render(),
        contentType: metrics.registry.contentType,
        ready: createReadinessCheck({ groups, store: options.store }),
        logger: options.logger,
      });
      const address = await server.start();
      if (watched.length > 0) {
        admin = kafka.admin();
        await admin.connect();
        let warned = false;
        metrics.setLagSource(
          createLagSource({
            admin,
            groups: watched,
            onError: (err) => {
              // Once per process: Prometheus scrapes every few seconds, and the gauge keeps the last reading.
              if (!warned) log.warn({ err }, 'consumer lag could not be read; serving the last reading');
              warned = true;
            },
          }),
        );
      }
      log.info(address, 'metrics endpoint listening: /metrics, /healthz, /readyz');
      return address;
    },
    async stop() {
      await server?.close();
      await admin?.disconnect();
    },
  };
}
