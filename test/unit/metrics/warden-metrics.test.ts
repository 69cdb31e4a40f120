import { describe, expect, it } from 'vitest';
import type { ControlCommand } from '../../../src/contracts/control.ts';
import type { Finding } from '../../../src/contracts/finding.ts';
import { createWardenMetrics } from '../../../src/metrics/warden-metrics.ts';

const finding = (detector: Finding['detector'], severity: Finding['severity']) => ({ detector, severity }) as Finding;
const command = (detector: string, action: ControlCommand['action']) => ({ action, reason: { detector } }) as ControlCommand;

/** The value of one sample line, e.g. `runwarden_findings_total{detector="tool-loop",severity="critical"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createWardenMetrics', () => {
  it('counts what the stages report, by label', async () => {
    const m = createWardenMetrics({ defaultMetrics: false });
    m.consumed('ingest', 3);
    m.consumed('ingest', 2);
    m.consumed('detect', 0);
    m.dlq('invalid_json');
    m.dlq('invalid_json');
    m.dlq('schema');
    m.emitted([finding('tool-loop', 'critical'), finding('tool-loop', 'critical'), finding('step-cap', 'warning')], [command('tool-loop', 'abort')]);
    m.state('ingest', { pendingRows: 7 });
    m.sinkDuration('clickhouse_insert', 0.02);
    m.alert('slack', 'sent');
    m.alert('slack', 'dropped');
    m.suppressed('duplicate_scope');
    m.queueDepth('slack', 4);
    const text = await m.render();
    const table: Array<[string, number | undefined]> = [
      ['runwarden_events_consumed_total{stage="ingest"}', 5],
      ['runwarden_events_consumed_total{stage="detect"}', undefined],
      ['runwarden_dlq_messages_total{reason="invalid_json"}', 2],
      ['runwarden_dlq_messages_total{reason="schema"}', 1],
      ['runwarden_findings_total{detector="tool-loop",severity="critical"}', 2],
      ['runwarden_findings_total{detector="step-cap",severity="warning"}', 1],
      ['runwarden_commands_total{detector="tool-loop",action="abort"}', 1],
      ['runwarden_pending_rows{stage="ingest"}', 7],
      ['runwarden_sink_duration_seconds_count{sink="clickhouse_insert"}', 1],
      ['runwarden_sink_duration_seconds_bucket{le="0.025",sink="clickhouse_insert"}', 1],
      ['runwarden_sink_duration_seconds_bucket{le="0.01",sink="clickhouse_insert"}', 0],
      ['runwarden_alerts_total{sink="slack",outcome="sent"}', 1],
      ['runwarden_alerts_total{sink="slack",outcome="dropped"}', 1],
      ['runwarden_alerts_suppressed_total{reason="duplicate_scope"}', 1],
      ['runwarden_alert_queue_depth{sink="slack"}', 4],
    ];
    for (const [series, value] of table) expect(sample(text, series), series).toBe(value);
  });

  it('shows a stage gauge only once its stage started, and ages from the start until the first event', async () => {
    let now = 1_000_000;
    const m = createWardenMetrics({ defaultMetrics: false, now: () => now });
    expect(await m.render()).not.toContain('runwarden_live_runs');
    expect(await m.render()).not.toContain('runwarden_checkpoint_age_seconds');
    m.stageStarted('detect', now);
    m.state('detect', { liveRuns: 12 });
    now += 4_000;
    let text = await m.render();
    expect(sample(text, 'runwarden_live_runs')).toBe(12);
    expect(sample(text, 'runwarden_heartbeat_age_seconds')).toBe(4);
    expect(text).not.toContain('runwarden_cohorts');
    m.heartbeatSent(now - 500);
    m.heartbeatSent(now - 2_000); // an older beat never makes the age grow
    text = await m.render();
    expect(sample(text, 'runwarden_heartbeat_age_seconds')).toBe(0.5);
    m.stageStarted('cohort', now);
    m.checkpointed(now - 1_500);
    m.state('cohort', { cohorts: 3 });
    text = await m.render();
    expect(sample(text, 'runwarden_checkpoint_age_seconds')).toBe(0);
    expect(sample(text, 'runwarden_cohorts')).toBe(3);
  });

  it('reads consumer lag from its source at each render, replacing the previous reading', async () => {
    const m = createWardenMetrics({ defaultMetrics: false });
    let samples = [
      { group: 'g', topic: 't', partition: 0, lag: 5 },
      { group: 'g', topic: 't', partition: 1, lag: 0 },
    ];
    m.setLagSource(() => Promise.resolve(samples));
    let text = await m.render();
    expect(sample(text, 'runwarden_consumer_lag_messages{group="g",topic="t",partition="0"}')).toBe(5);
    samples = [{ group: 'g', topic: 't', partition: 1, lag: 2 }];
    text = await m.render();
    expect(sample(text, 'runwarden_consumer_lag_messages{group="g",topic="t",partition="0"}')).toBeUndefined();
    expect(sample(text, 'runwarden_consumer_lag_messages{group="g",topic="t",partition="1"}')).toBe(2);
  });

  it('includes the process metrics by default, on a registry of its own', async () => {
    const a = createWardenMetrics();
    const b = createWardenMetrics();
    a.dlq('schema');
    expect(await a.render()).toContain('process_cpu_user_seconds_total');
    expect(await b.render()).not.toContain('runwarden_dlq_messages_total{');
  });
});
