import { describe, expect, it } from 'vitest';
import { controlCommandSchema, type ControlCommand } from '../../../src/contracts/control.ts';
import { findingSchema } from '../../../src/contracts/finding.ts';
import { spanEventSchema, type SpanEvent } from '../../../src/contracts/span.ts';
import type { DemoTruth } from '../../../src/demo/demo-fleet.ts';
import { createDemoTally } from '../../../src/demo/demo-tally.ts';
import { catchOf } from '../../../src/demo/render-summary.ts';
import { DEFAULT_PRICE_TABLE } from '../../../src/pricing/price-table.ts';

const T = Date.UTC(2026, 10, 23, 12);
const who = { agent_id: 'a', tenant_id: 't', user_id: 'u' };
const llm = (run: string, ts: number, cost: number): SpanEvent =>
  spanEventSchema.parse({ schema: 'runwarden.span/v1', event_id: `${run}-${ts}`, ts, run_id: run, span_id: `s${ts}`, kind: 'llm_call', ...who, llm: { model: 'gpt-4o', input_tokens: 1, output_tokens: 1, cost_usd: cost } });
const command = (action: string, kind: string, id: string, ts: number, rule = 'llm_calls_abort'): ControlCommand =>
  controlCommandSchema.parse({ schema: 'runwarden.control/v1', command_id: `${action}-${id}-${ts}`, issued_at: ts, action, scope: { kind, id }, reason: { detector: 'step-cap', rule, observed: 30, threshold: 30, finding_id: 'f' }, signature: '0'.repeat(64) });

describe('createDemoTally', () => {
  it('counts aborts per rule, shows each run once, and the spend after its first abort', () => {
    const tally = createDemoTally(DEFAULT_PRICE_TABLE);
    tally.event(llm('r1', T, 1));
    expect(tally.command(command('abort', 'run', 'r1', T + 1))).toContain('ABORT     run:r1  step-cap/llm_calls_abort: 30 vs 30');
    // A second abort of the same run is counted, not shown again.
    expect(tally.command(command('abort', 'run', 'r1', T + 2, 'cost_usd_abort'))).toBeUndefined();
    tally.event(llm('r1', T + 5, 0.25));
    tally.event(llm('r2', T + 5, 0.5));
    expect(tally.command(command('throttle', 'cohort', 'tenant_id=t', T + 6))).toContain('THROTTLE');
    expect(tally.command(command('warn', 'run', 'r2', T + 7))).toBeUndefined();
    const drift = findingSchema.parse({ schema: 'runwarden.finding/v1', finding_id: 'd', ts: T, detector: 'judge-drift', rule: 'version_drop', severity: 'warning', scope: { kind: 'cohort', id: 'x' }, cohort: { agent_id: 'a', model_version: 'v2' }, observed: 0.7, threshold: 0, baseline: 0.8 });
    expect(tally.finding(drift)).toContain('DRIFT     cohort agent_id=a,model_version=v2  judge-drift/version_drop: mean 0.7 vs 0.8 before');
    tally.bad('invalid_json');
    const s = tally.summary();
    expect(s).toMatchObject({ events: 3, runs: 2, warns: 1, bad: { invalid_json: 1 }, findings: { 'judge-drift': 1 }, spendUsd: 1.75, spendAfterAbortUsd: 0.25 });
    expect(s.aborts).toEqual({ commands: 2, byRule: { 'step-cap/llm_calls_abort': 1, 'step-cap/cost_usd_abort': 1 }, scopes: ['r1'] });
    expect(s.throttles).toEqual({ commands: 1, byRule: { 'step-cap/llm_calls_abort': 1 }, scopes: ['cohort:tenant_id=t'] });
  });
});

describe('catchOf', () => {
  it('scores the aborted runs against the injected ones', () => {
    const truth: DemoTruth = {
      runaways: { tool_loop: ['l1', 'l2'], step_cap: ['s1'], token_spike: ['k1'] },
      incidents: [],
      abortedRuns: ['c1.runaway', 'l1', 'l2', 's1'],
      startMs: 0,
      endMs: 1,
    };
    const tally = createDemoTally(DEFAULT_PRICE_TABLE);
    for (const id of ['l1', 's1', 'c1.runaway', 'x9']) tally.command(command('abort', 'run', id, T));
    expect(catchOf(tally.summary(), truth)).toEqual({ toolLoops: [1, 2], stepCaps: [1, 1], spendSpikes: [1, 1], unexpected: ['x9'] });
  });
});
