import { describe, expect, it } from 'vitest';
import { budgetPeriods, dayLabel, DAY_MS } from '../../../src/budgets/periods.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('budgetPeriods (UTC)', () => {
  it.each([
    ['mid-month', '2026-11-23T15:00:00.000Z', '2026-11', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '2026-11-22', '2026-11-23'],
    ['the first millisecond of a month', '2026-12-01T00:00:00.000Z', '2026-12', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', '2026-11-30', '2026-12-01'],
    ['the last millisecond of a year', '2026-12-31T23:59:59.999Z', '2026-12', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', '2026-12-30', '2026-12-31'],
    ['a leap February', '2028-02-29T12:00:00.000Z', '2028-02', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z', '2028-02-28', '2028-02-29'],
  ])('%s', (_name, now, month, start, end, yesterday, today) => {
    const p = budgetPeriods(Date.parse(now), 7);
    expect([p.month, iso(p.monthStartMs), iso(p.monthEndMs), ...p.checkDays.map(dayLabel)]).toEqual([month, start, end, yesterday, today]);
    // The daily queries start at the first baseline day of yesterday's check.
    expect(p.dailyFromMs).toBe((p.checkDays[0] - 7) * DAY_MS);
    // What already fired is read from the earlier of the month's start and yesterday's.
    expect(p.firedFromMs).toBe(Math.min(p.monthStartMs, p.checkDays[0] * DAY_MS));
  });
});
