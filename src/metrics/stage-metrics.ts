import type { ControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';

/** The stages of `runwarden start` that consume a topic. */
export type ConsumingStage = 'ingest' | 'detect' | 'cohort' | 'alerts';

/** Sinks whose latency is measured (docs/metrics.md `runwarden_sink_duration_seconds`). */
export type SinkName = 'clickhouse_insert' | 'kafka_produce' | 'webhook';

/**
 * What the consumers report, as plain calls on an optional option (`metrics?.consumed(…)`): free
 * when nobody listens, and no metrics library inside the consumers. `createWardenMetrics`
 * implements it with prom-client; tests may pass a recording double.
 */
export interface StageMetrics {
  /** `count` messages of the stage's input topic handled (valid or not). */
  consumed(stage: ConsumingStage, count: number): void;
  /** A span message classified as bad input, by DLQ reason (SPEC §6). */
  dlq(reason: string): void;
  /** Findings and commands Kafka acknowledged. */
  emitted(findings: readonly Finding[], commands: readonly ControlCommand[]): void;
  /** The stage's state after a batch: live runs (detect), cohorts (cohort), rows waiting for ClickHouse. */
  state(stage: ConsumingStage, sizes: { liveRuns?: number; cohorts?: number; pendingRows?: number }): void;
  /** A warden heartbeat went out on the control topic at `atMs` (epoch ms). */
  heartbeatSent(atMs: number): void;
  /** The cohort stage checkpointed its state (and committed its offsets) at `atMs` (epoch ms). */
  checkpointed(atMs: number): void;
  /** One write to a sink took `seconds`. */
  sinkDuration(sink: SinkName, seconds: number): void;
}

/** Alert delivery outcomes, per sink. */
export type AlertOutcome = 'sent' | 'failed' | 'dropped';

/** What the alert sinks report (docs/metrics.md `runwarden_alerts_*`). */
export interface AlertMetrics {
  alert(sink: string, outcome: AlertOutcome): void;
  /** A finding not alerted because the same finding_id, or the same (detector, rule, scope), was alerted within the window. */
  suppressed(reason: 'duplicate_finding' | 'duplicate_scope'): void;
  queueDepth(sink: string, depth: number): void;
  sinkDuration(sink: SinkName, seconds: number): void;
}
