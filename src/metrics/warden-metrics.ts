import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AlertMetrics, ConsumingStage, SinkName, StageMetrics } from './stage-metrics.ts';

/** One partition's lag: messages in the topic past the group's position. */
export interface PartitionLagSample {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

export interface WardenMetricsOptions {
  /** prom-client's process metrics (CPU, memory, event-loop lag, GC, handles); default true. */
  defaultMetrics?: boolean;
  /** Wall clock (epoch ms) for the age gauges. */
  now?: () => number;
}

/** The prom-client side of runwarden: every hook of the consumers and alert sinks, and the registry they fill. */
export interface WardenMetrics extends StageMetrics, AlertMetrics {
  readonly registry: Registry;
  /**
   * The stage runs in this process: registers its own gauges (live runs, cohorts, heartbeat and
   * checkpoint age), whose ages count from `atMs` until the first heartbeat or checkpoint.
   */
  stageStarted(stage: ConsumingStage, atMs: number): void;
  /** Where consumer lag comes from at each scrape (src/metrics/lag-source.ts). */
  setLagSource(source: () => Promise<readonly PartitionLagSample[]>): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
}

/** Sink write durations, s: a ClickHouse insert is ms to s; a produce with acks=all a few ms. */
const SINK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Creates runwarden's metrics on a registry of its own (no global singleton, so tests and
 * several wardens in one process never share counters). Names and labels: docs/metrics.md.
 */
export function createWardenMetrics(options: WardenMetricsOptions = {}): WardenMetrics {
  const now = options.now ?? Date.now;
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const consumed = new Counter({ name: 'runwarden_events_consumed_total', help: 'Messages of its input topic each stage handled (valid or not)', labelNames: ['stage'], registers });
  const dlq = new Counter({ name: 'runwarden_dlq_messages_total', help: 'Span messages sent to the dead-letter queue, by reason', labelNames: ['reason'], registers });
  const findings = new Counter({ name: 'runwarden_findings_total', help: 'Findings acknowledged by Kafka, by detector and severity', labelNames: ['detector', 'severity'], registers });
  const commands = new Counter({ name: 'runwarden_commands_total', help: 'Control commands acknowledged by Kafka, by detector and action', labelNames: ['detector', 'action'], registers });
  const sink = new Histogram({ name: 'runwarden_sink_duration_seconds', help: 'Duration of one write to a sink (ClickHouse insert, Kafka produce request, alert webhook), s', labelNames: ['sink'], buckets: SINK_BUCKETS, registers });
  const pendingRows = new Gauge({ name: 'runwarden_pending_rows', help: 'Rows waiting to be written to ClickHouse, by stage', labelNames: ['stage'], registers });
  const alerts = new Counter({ name: 'runwarden_alerts_total', help: 'Alerts per sink by outcome: sent, failed (retries exhausted or rejected), dropped (queue full)', labelNames: ['sink', 'outcome'], registers });
  const suppressed = new Counter({ name: 'runwarden_alerts_suppressed_total', help: 'Findings not alerted because they were alerted within the dedup window', labelNames: ['reason'], registers });
  const queueDepth = new Gauge({ name: 'runwarden_alert_queue_depth', help: 'Alerts waiting in a sink queue', labelNames: ['sink'], registers });

  let lagSource: (() => Promise<readonly PartitionLagSample[]>) | undefined;
  new Gauge({
    name: 'runwarden_consumer_lag_messages',
    help: "Messages of a topic partition past the consumer group's position (detect: its processed high-water mark), read at scrape time",
    labelNames: ['group', 'topic', 'partition'],
    registers,
    async collect() {
      if (!lagSource) return;
      const samples = await lagSource();
      this.reset();
      for (const s of samples) this.set({ group: s.group, topic: s.topic, partition: String(s.partition) }, s.lag);
    },
  });

  // Stage gauges: registered only when the stage runs, so a process without it shows no value.
  const liveRuns = new Gauge({ name: 'runwarden_live_runs', help: 'Runs whose state the detect stage holds in this process', registers: [] });
  const cohorts = new Gauge({ name: 'runwarden_cohorts', help: 'Cohorts whose state the cohort stage holds in this process', registers: [] });
  let lastHeartbeatMs = 0;
  let lastCheckpointMs = 0;
  const ageSince = (atMs: number) => Math.max(0, (now() - atMs) / 1_000);
  const heartbeatAge = new Gauge({
    name: 'runwarden_heartbeat_age_seconds',
    help: 'Seconds since the last warden heartbeat was sent (since the detect stage started, before the first)',
    registers: [],
    collect() {
      this.set(ageSince(lastHeartbeatMs));
    },
  });
  const checkpointAge = new Gauge({
    name: 'runwarden_checkpoint_age_seconds',
    help: 'Seconds since the cohort stage last checkpointed its state (since it started, before the first)',
    registers: [],
    collect() {
      this.set(ageSince(lastCheckpointMs));
    },
  });

  const consumedBy = new Map<ConsumingStage, Counter.Internal>();
  return {
    registry,
    consumed(stage, count) {
      if (count <= 0) return;
      let child = consumedBy.get(stage);
      if (!child) consumedBy.set(stage, (child = consumed.labels(stage)));
      child.inc(count);
    },
    dlq: (reason) => dlq.inc({ reason }),
    emitted(fs, cs) {
      for (const f of fs) findings.inc({ detector: f.detector, severity: f.severity });
      for (const c of cs) commands.inc({ detector: c.reason.detector, action: c.action });
    },
    state(stage, sizes) {
      if (sizes.liveRuns !== undefined) liveRuns.set(sizes.liveRuns);
      if (sizes.cohorts !== undefined) cohorts.set(sizes.cohorts);
      if (sizes.pendingRows !== undefined) pendingRows.set({ stage }, sizes.pendingRows);
    },
    heartbeatSent: (atMs) => void (lastHeartbeatMs = Math.max(lastHeartbeatMs, atMs)),
    checkpointed: (atMs) => void (lastCheckpointMs = Math.max(lastCheckpointMs, atMs)),
    sinkDuration: (name: SinkName, seconds) => sink.observe({ sink: name }, seconds),
    alert: (name, outcome) => alerts.inc({ sink: name, outcome }),
    suppressed: (reason) => suppressed.inc({ reason }),
    queueDepth: (name, depth) => queueDepth.set({ sink: name }, depth),
    stageStarted(stage, atMs) {
      const register = (name: string, g: Gauge) => {
        if (!registry.getSingleMetric(name)) registry.registerMetric(g);
      };
      if (stage === 'detect') {
        register('runwarden_live_runs', liveRuns);
        register('runwarden_heartbeat_age_seconds', heartbeatAge);
        lastHeartbeatMs = Math.max(lastHeartbeatMs, atMs);
      }
      if (stage === 'cohort') {
        register('runwarden_cohorts', cohorts);
        register('runwarden_checkpoint_age_seconds', checkpointAge);
        lastCheckpointMs = Math.max(lastCheckpointMs, atMs);
      }
    },
    setLagSource: (source) => void (lagSource = source),
    render: () => registry.metrics(),
  };
}
