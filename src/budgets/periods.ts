/** One UTC day in ms: day numbers are `floor(epoch ms / DAY_MS)`, the same `intDiv(ts_ms, 86400000)` the SQL uses. */
export const DAY_MS = 86_400_000;

/** The calendar periods one budget check looks at, all UTC, times in epoch ms (end exclusive). */
export interface BudgetPeriods {
  /** When the check runs. */
  nowMs: number;
  /** The current month, `YYYY-MM`. */
  month: string;
  monthStartMs: number;
  /** Start of the next month: where monthly spend resets and budget throttles end. */
  monthEndMs: number;
  /** The days checked for a product spike and unknown models: yesterday (complete) and today (so far). */
  checkDays: readonly [number, number];
  /** Start of the first baseline day of yesterday's check: the daily queries read from here. */
  dailyFromMs: number;
  /** Where `findings` must be read from to know what already fired for these periods. */
  firedFromMs: number;
}

/** `YYYY-MM-DD` of a UTC day number. */
export const dayLabel = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * The periods of a check at `nowMs` with `baselineDays` of daily history. A finding for a period
 * is only ever fired during or after it, so `firedFromMs` (the earlier of the month's and
 * yesterday's start) bounds every finding that can matter to this check.
 */
export function budgetPeriods(nowMs: number, baselineDays: number): BudgetPeriods {
  const now = new Date(nowMs);
  const monthStartMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const monthEndMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  const today = Math.floor(nowMs / DAY_MS);
  const yesterday = today - 1;
  return {
    nowMs,
    month: now.toISOString().slice(0, 7),
    monthStartMs,
    monthEndMs,
    checkDays: [yesterday, today],
    dailyFromMs: (yesterday - baselineDays) * DAY_MS,
    firedFromMs: Math.min(monthStartMs, yesterday * DAY_MS),
  };
}
