import type { Topics } from '../../src/config/env.ts';
import type { OrderedSenderMetrics } from '../../src/kafka/ordered-sender.ts';
import type { WardenTimings } from './instrument.ts';
import type { ProcSample } from './proc-metrics.ts';

/** What bench/warden.ts needs: passed as its one argv argument (JSON). */
export interface WardenConfig {
  brokers: string[];
  /** ClickHouse server for the audit rows, or null for the in-memory sink. */
  clickhouseUrl: string | null;
  database: string;
  topics: Topics;
  groupId: string;
  keyId: string;
  secret: string;
  heartbeatIntervalMs: number;
}

/** Sent by the warden every LAG_SAMPLE_MS and once more when stopped. */
export interface WardenReport {
  type: 'warden';
  /** Messages handled so far (valid + invalid). */
  processed: number;
  /** Sum of the spans topic's end offsets minus `processed`, sampled together. */
  lag: number;
  liveRuns: number;
  commands: Record<string, number>;
  heartbeats: number;
  timings: WardenTimings;
  /** Event-loop delay since the previous report (ms; perf_hooks.monitorEventLoopDelay, sampled every 5 ms). */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** The pipeline's background delivery: queue waits, acks, backpressure on the fetch loop. */
  delivery: OrderedSenderMetrics;
  proc: ProcSample;
}

export interface WardenReady {
  type: 'ready';
  sink: string;
}

/** What bench/fleet-producer.ts needs (argv JSON). */
export interface FleetConfig {
  brokers: string[];
  topic: string;
  eventsPerSecond: number;
  /** A send every this many ms (the pacing batch). */
  tickMs: number;
  /** Prefix of run and event ids: unique per bench run and level. */
  prefix: string;
  seed: number;
  runawayShare: number;
}

export interface FleetReport {
  type: 'fleet';
  /** Events acknowledged by the broker so far. */
  acked: number;
  /** Events never sent because the producer could not keep the pace (the deficit was dropped). */
  skipped: number;
  sends: number;
  proc: ProcSample;
}

export type StopMessage = { type: 'stop' };
