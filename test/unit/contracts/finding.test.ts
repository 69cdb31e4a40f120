import { describe, expect, it } from 'vitest';
import { DETECTORS, SEVERITIES, findingSchema, type Finding } from '../../../src/contracts/finding.ts';

const finding: Finding = {
  schema: 'runwarden.finding/v1',
  finding_id: 'f-judge-drift-1',
  ts: 1_768_478_400_000,
  detector: 'judge-drift',
  rule: 'abrupt_drop',
  severity: 'warning',
  scope: { kind: 'cohort', id: 'support-bot|v2|free' },
  cohort: { agent_id: 'support-bot', model_version: 'v2', plan_tier: 'free' },
  observed: 0.61,
  threshold: 0.05,
  baseline: 0.82,
  details: { p_value: 0.001, effect_size: -0.8, samples: { recent: 200, reference: 1000 } },
};

describe('findingSchema', () => {
  it.each(DETECTORS.map((detector) => [detector]))('accepts detector %s', (detector) => {
    expect(findingSchema.parse({ ...finding, detector })).toEqual({ ...finding, detector });
  });

  it.each(SEVERITIES.map((severity) => [severity]))('accepts severity %s', (severity) => {
    expect(findingSchema.parse({ ...finding, severity }).severity).toBe(severity);
  });

  it('accepts a per-run finding without cohort, baseline or details', () => {
    const { cohort: _c, baseline: _b, details: _d, ...minimal } = finding;
    const perRun = { ...minimal, detector: 'step-cap', scope: { kind: 'run', id: 'run-1' } };
    expect(findingSchema.parse(perRun)).toEqual(perRun);
  });

  it('accepts negative observed values (a drift is a signed effect)', () => {
    expect(findingSchema.parse({ ...finding, observed: -0.2 }).observed).toBe(-0.2);
  });

  it.each([
    ['unknown detector', { ...finding, detector: 'vibes' }, 'detector'],
    ['unknown severity', { ...finding, severity: 'high' }, 'severity'],
    ['unknown version', { ...finding, schema: 'runwarden.finding/v0' }, 'schema'],
    ['negative ts', { ...finding, ts: -1 }, 'ts'],
    ['ISO ts (findings carry epoch ms only)', { ...finding, ts: '2026-01-15T11:00:00Z' }, 'ts'],
    ['missing scope', { ...finding, scope: undefined }, 'scope'],
    ['cohort value not a string', { ...finding, cohort: { plan_tier: 1 } }, 'cohort.plan_tier'],
    ['empty finding_id', { ...finding, finding_id: '' }, 'finding_id'],
    ['observed not a number', { ...finding, observed: '0.61' }, 'observed'],
    ['non-finite threshold', { ...finding, threshold: Number.POSITIVE_INFINITY }, 'threshold'],
    ['details not an object', { ...finding, details: [1, 2] }, 'details'],
  ])('rejects %s', (_name, value, path) => {
    const result = findingSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
