import { describe, expect, it } from 'vitest';
import { createAlertDedup } from '../../../src/alerts/alert-dedup.ts';
import { finding } from './fixtures.ts';

describe('createAlertDedup', () => {
  it('alerts a finding_id once and a (detector, rule, scope) once per window', () => {
    const dedup = createAlertDedup({ windowMs: 10_000 });
    const table: Array<[number, Parameters<typeof finding>[0], string]> = [
      [0, { finding_id: 'a' }, 'new'],
      [1_000, { finding_id: 'a' }, 'duplicate_finding'],
      [2_000, { finding_id: 'b' }, 'duplicate_scope'], // same run, same rule
      [2_000, { finding_id: 'c', rule: 'cycle' }, 'new'],
      [3_000, { finding_id: 'd', scope: { kind: 'run', id: 'run-43' } }, 'new'],
      [9_999, { finding_id: 'e' }, 'duplicate_scope'],
      [10_000, { finding_id: 'f' }, 'new'], // the window since 'a' has passed
      [10_500, { finding_id: 'f' }, 'duplicate_finding'],
      [10_500, { finding_id: 'a', scope: { kind: 'run', id: 'run-44' } }, 'new'], // 'a' is forgotten once its window passed
    ];
    for (const [at, overrides, verdict] of table) expect(dedup.check(finding(overrides), at), JSON.stringify({ at, overrides })).toBe(verdict);
  });

  it('forgets expired keys and stays within maxEntries', () => {
    const dedup = createAlertDedup({ windowMs: 1_000, maxEntries: 10 });
    for (let i = 0; i < 100; i++) dedup.check(finding({ finding_id: `f${i}`, scope: { kind: 'run', id: `r${i}` } }), i);
    expect(dedup.size).toBeLessThanOrEqual(12);
    dedup.check(finding({ finding_id: 'late' }), 10_000);
    expect(dedup.size).toBe(2);
  });
});
