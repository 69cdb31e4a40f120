import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cohortId } from '../../../src/contracts/cohort-id.ts';
import { FINDING_SCHEMA_VERSION, type Finding } from '../../../src/contracts/finding.ts';
import { parseFindingLines } from '../../../src/eval/sim/finding-lines.ts';
import { consistent, covers } from '../../../src/eval/sim/match.ts';
import { renderSimQuality } from '../../../src/eval/sim/report.ts';
import { scoreScenario, unionLength } from '../../../src/eval/sim/score.ts';
import { summarise } from '../../../src/eval/sim/summarise.ts';
import { simulateCohortFleet } from '../../../src/sim/cohort-fleet.ts';
import { SIM_TRUTH_SCHEMA_VERSION, type GroundTruth, type Incident } from '../../../src/sim/ground-truth.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);

const cohort = (id: string, tenant: string, agent: string, user: string, quiet: boolean) => ({
  id,
  tenant_id: tenant,
  agent_id: agent,
  user_id: user,
  model: 'gpt-4o',
  plan_tier: 'pro',
  region: 'eu-west',
  user_segment: 'new',
  runs_per_minute: 2,
  usd_per_minute: 0.5,
  quiet,
});
const spend = (c: { tenant_id: string; agent_id: string; user_id: string; model?: string }) => ({ tenant_id: c.tenant_id, agent_id: c.agent_id, user_id: c.user_id, model: c.model ?? 'gpt-4o' });
const incident = (i: Omit<Incident, 'unit' | 'details'> & Partial<Pick<Incident, 'details'>>): Incident => ({
  unit: i.kind.startsWith('judge_') ? 'score_drop' : 'times',
  details: {},
  ...i,
});

/** One day, three spend cohorts on three agents; a spike, a rate burst, a version drop, a segment drop. */
const TRUTH: GroundTruth = {
  schema: SIM_TRUTH_SCHEMA_VERSION,
  seed: 1,
  start_ts: T0,
  end_ts: T0 + DAY,
  cohorts: [cohort('c000', 't1', 'a1', 'u1', false), cohort('c001', 't1', 'a2', 'u2', false), cohort('c002', 't2', 'a3', 'u3', true)],
  agents: ['a1', 'a2', 'a3'].map((a) => ({ agent_id: a, judge_mean: 0.8, releases: [{ ts: T0, model_version: 'mv1', prompt_hash: 'p1', kind: 'initial' as const }], quiet: a === 'a2' })),
  incidents: [
    incident({ id: 'spike', kind: 'spend_spike', cohort: spend({ tenant_id: 't1', agent_id: 'a1', user_id: 'u1' }), start_ts: T0 + 2 * HOUR, end_ts: T0 + 2 * HOUR + 2 * MINUTE, magnitude: 10, expected: { detector: 'cost-spike', rules: ['spend_spike', 'spend_sustained'] }, details: { baseline_usd_per_minute: 0.5 } }),
    incident({ id: 'burst', kind: 'llm_rate_burst', cohort: { user_id: 'u2' }, start_ts: T0 + 3 * HOUR, end_ts: T0 + 3 * HOUR + 5 * MINUTE, magnitude: 10, expected: { detector: 'cost-spike', rules: ['llm_rate'] }, details: { baseline_llm_calls_per_minute: 2 } }),
    incident({ id: 'version', kind: 'judge_version_drop', cohort: { agent_id: 'a1', model_version: 'mv2', prompt_hash: 'p1' }, start_ts: T0 + 6 * HOUR, end_ts: T0 + DAY, magnitude: 0.1, expected: { detector: 'judge-drift', rules: ['version_drop', 'recent_drop'] } }),
    incident({ id: 'segment', kind: 'judge_segment_drop', cohort: { agent_id: 'a3', plan_tier: 'free' }, start_ts: T0 + 8 * HOUR, end_ts: T0 + DAY, magnitude: 0.05, expected: { detector: 'judge-drift', rules: ['recent_drop', 'decline'] } }),
  ],
};

const FLOORS = { baseline_usd_per_minute: 1, baseline_llm_calls_per_minute: 30 };

let n = 0;
const finding = (detector: Finding['detector'], rule: string, ts: number, dims: Record<string, string>, scope?: Finding['scope']): Finding => ({
  schema: FINDING_SCHEMA_VERSION,
  finding_id: `f${++n}`,
  ts,
  detector,
  rule,
  severity: 'warning',
  scope: scope ?? { kind: 'cohort', id: cohortId(dims) },
  cohort: dims,
  observed: 1,
  threshold: 0,
});
const c000 = spend({ tenant_id: 't1', agent_id: 'a1', user_id: 'u1' });
const c002 = spend({ tenant_id: 't2', agent_id: 'a3', user_id: 'u3' });

/** What replay would print: findings, a command, a stray line. */
const FINDINGS: Finding[] = [
  finding('cost-spike', 'spend_spike', T0 + 2 * HOUR + 45_000, c000), // detects the spike, 45 s late
  finding('cost-spike', 'spend_sustained', T0 + 2 * HOUR + 90_000, c000), // detects it too, by another rule
  finding('cost-spike', 'llm_rate', T0 + 2 * HOUR + 60_000, { tenant_id: 't1', user_id: 'u1' }), // related: the spiking cohort's user
  finding('cost-spike', 'run_tokens_p99', T0 + 2 * HOUR + 60_000, { agent_id: 'a1' }, { kind: 'run', id: 'c000.runaway' }), // related: the spiking cohort's runaway run
  finding('cost-spike', 'spend_spike', T0 + 5 * HOUR, c002), // false alarm on a quiet cohort
  finding('cost-spike', 'spend_spike', T0 + 2 * HOUR + 2 * MINUTE + 6 * MINUTE, c000), // false alarm: past end + 5 min
  finding('cost-spike', 'llm_rate', T0 + 3 * HOUR + 30_000, { tenant_id: 't1', user_id: 'u2' }), // detects the burst
  finding('judge-drift', 'version_drop', T0 + 7 * HOUR, { agent_id: 'a1', plan_tier: 'pro', model_version: 'mv2', prompt_hash: 'p1' }), // detects the drop, in a segment lineage
  finding('judge-drift', 'recent_drop', T0 + 7 * HOUR, { agent_id: 'a1', model_version: 'mv1', prompt_hash: 'p1' }), // false alarm: the old version
  finding('judge-drift', 'recent_drop', T0 + 10 * HOUR, { agent_id: 'a3', model_version: 'mv1', prompt_hash: 'p1' }), // coarse: the whole lineage, not plan_tier=free
  finding('step-cap', 'tokens_abort', T0 + HOUR, {}, { kind: 'run', id: 'c000.r1' }), // per-run: counted, not scored
];

describe('sim scorer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-score-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = join(dir, 'replay-output.jsonl');
  writeFileSync(
    fixture,
    [...FINDINGS.map((f) => JSON.stringify(f)), JSON.stringify({ schema: 'runwarden.control/v1', command_id: 'x' }), 'not json', JSON.stringify({ schema: FINDING_SCHEMA_VERSION, ts: -1 }), ''].join('\n'),
  );

  it('keeps the findings of replay output and counts the rest', () => {
    const parsed = parseFindingLines(readFileSync(fixture, 'utf8').split('\n'));
    expect(parsed.findings).toEqual(FINDINGS);
    expect(parsed.other).toBe(1);
    expect(parsed.invalid).toBe(2);
  });

  it('scores detections, related findings, false alarms and delays', () => {
    const { findings } = parseFindingLines(readFileSync(fixture, 'utf8').split('\n'));
    const score = scoreScenario(TRUTH, findings, { floors: FLOORS });
    const byId = Object.fromEntries(score.incidents.map((o) => [o.id, o]));
    expect(byId['spike']?.first).toEqual({ rule: 'spend_spike', ts: T0 + 2 * HOUR + 45_000, delay_ms: 45_000 });
    expect(Object.keys(byId['spike']?.by_rule ?? {}).sort()).toEqual(['spend_spike', 'spend_sustained']);
    expect(byId['spike']?.above_floor).toBe(true);
    expect(byId['burst']?.first?.delay_ms).toBe(30_000);
    expect(byId['burst']?.above_floor).toBe(false); // 10 × 2 calls per minute < 30
    expect(byId['version']?.above_floor).toBeUndefined();
    expect(byId['version']?.first?.delay_ms).toBe(HOUR);
    expect(byId['segment']?.first).toBeNull();
    expect(byId['segment']?.coarse?.delay_ms).toBe(2 * HOUR);

    expect(score.rules['cost-spike/spend_spike']).toMatchObject({ findings: 3, detections: 1, related: 0, false_alarms: 2 });
    expect(score.rules['cost-spike/spend_sustained']).toMatchObject({ findings: 1, detections: 1, false_alarms: 0 });
    expect(score.rules['cost-spike/llm_rate']).toMatchObject({ findings: 2, detections: 1, related: 1, false_alarms: 0, unit: 'user' });
    expect(score.rules['cost-spike/run_tokens_p99']).toMatchObject({ findings: 1, related: 1, false_alarms: 0, unit: 'agent' });
    expect(score.rules['judge-drift/recent_drop']).toMatchObject({ findings: 2, related: 1, false_alarms: 1 });
    expect(score.unscored).toEqual({ 'step-cap/tokens_abort': 1 });
    expect(score.false_alarm_samples.map((f) => f.rule)).toEqual(['cost-spike/spend_spike', 'cost-spike/spend_spike', 'judge-drift/recent_drop']);
    expect(score.false_alarm_samples[0]).toMatchObject({ scope: `cohort:${cohortId(c000)}`, observed: 1, threshold: 0 });

    // Quiet traffic: 3 cohort-days less the spike (2 min + 5 min tolerance) on c000 and the burst (5 + 5 min) on c001 (user u2).
    expect(score.rules['cost-spike/spend_spike']?.quiet_unit_days).toBeCloseTo(3 - 17 / 1440, 9);
    // Agents: a1 quiet until its drop at 6 h, a2 all day, a3 until its segment drop at 8 h.
    expect(score.rules['judge-drift/recent_drop']?.quiet_unit_days).toBeCloseTo(6 / 24 + 1 + 8 / 24, 9);
  });

  it('pools fleets and renders the table', () => {
    const score = scoreScenario(TRUTH, FINDINGS, { floors: FLOORS, rules: ['judge-drift/decline'] });
    const q = summarise([score, { ...score, seed: 2 }]);
    expect(q.incidents).toBe(8);
    expect(q.by_kind.spend_spike).toMatchObject({ incidents: 2, detected: 2, recall: 1, delay_s: { median: 45, p90: 45, max: 45 }, rule_recall: { spend_spike: 1, spend_sustained: 1 } });
    expect(q.by_kind.spend_spike?.by_magnitude['10']).toMatchObject({ recall: 1, above_floor: { incidents: 2, detected: 2 } });
    expect(q.by_kind.llm_rate_burst?.by_magnitude['10']?.above_floor).toMatchObject({ incidents: 0, recall: null });
    expect(q.by_kind.spend_spike?.above_floor?.detected).toBe(2);
    expect(q.by_kind.judge_segment_drop).toMatchObject({ detected: 0, recall: 0, coarse_only: 2 });
    expect(q.by_rule['cost-spike/spend_spike']?.false_alarms).toBe(4);
    expect(q.by_rule['cost-spike/spend_spike']?.false_alarms_per_unit_day).toBeCloseTo(4 / (2 * (3 - 17 / 1440)), 3);
    expect(q.by_rule['judge-drift/decline']).toMatchObject({ findings: 0, false_alarms: 0, false_alarms_per_unit_day: 0 });
    const text = renderSimQuality(q);
    expect(text).toContain('spend_spike');
    expect(text).toContain('10× 2/2 (2/2)');
  });

  it('scores a simulated fleet: a perfect detector has recall 1 and no false alarm; alarms on quiet cohorts are counted', () => {
    const { truth } = simulateCohortFleet({ seed: 5, startMs: T0, durationMs: 8 * HOUR, cohorts: 30, agents: 6 });
    expect(new Set(truth.incidents.map((i) => i.kind)).size).toBeGreaterThanOrEqual(5);
    const perfect = truth.incidents.map((i) => finding(i.expected.detector as Finding['detector'], i.expected.rules[0] as string, i.start_ts + MINUTE, { ...i.cohort, region: 'eu-west' }));
    const clean = summarise([scoreScenario(truth, perfect)]);
    for (const k of Object.values(clean.by_kind)) expect(k).toMatchObject({ recall: 1, delay_s: { median: 60, p90: 60 } });
    expect(Object.values(clean.by_rule).every((r) => r.false_alarms === 0)).toBe(true);

    const quiet = truth.cohorts.filter((c) => c.quiet);
    const alarms = quiet.map((c) => finding('cost-spike', 'spend_spike', truth.start_ts + 30 * MINUTE, spend(c)));
    const noisy = scoreScenario(truth, [...perfect, ...alarms]);
    expect(noisy.rules['cost-spike/spend_spike']?.false_alarms).toBe(quiet.length);
    expect(unionLength([[0, 10], [5, 20], [30, 40], [35, 36]])).toBe(30);
  });

  it.each([
    [{ agent_id: 'a', plan_tier: 'free', model_version: 'v2' }, { agent_id: 'a', plan_tier: 'free' }, true, true],
    [{ agent_id: 'a', model_version: 'v2' }, { agent_id: 'a', plan_tier: 'free' }, false, true],
    [{ agent_id: 'a', plan_tier: 'pro' }, { agent_id: 'a', plan_tier: 'free' }, false, false],
    [{ model: 'gpt-4o' }, { agent_id: 'a' }, false, false],
  ])('covers(%j, %j) = %s, consistent = %s', (f, i, cov, cons) => {
    expect(covers(f, i)).toBe(cov);
    expect(consistent(f, i)).toBe(cons);
  });
});
