import type { TableSink } from '../ingest/batch-writer.ts';
import type { StageMetrics } from './stage-metrics.ts';

/** The same sink, with the duration of every insert (successful or not) in `runwarden_sink_duration_seconds{sink="clickhouse_insert"}`. */
export function timedSink<S extends TableSink>(sink: S, metrics: Pick<StageMetrics, 'sinkDuration'>): TableSink {
  return {
    async insert(table, rows) {
      const started = performance.now();
      try {
        await sink.insert(table, rows);
      } finally {
        metrics.sinkDuration('clickhouse_insert', (performance.now() - started) / 1_000);
      }
    },
  };
}
