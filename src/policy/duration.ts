import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const HINT = 'must be a duration: milliseconds as a number (90000) or a string such as "90s", "15m", "1h", "7d"';

/** Parses "90s" / "15m" / "1h" / "7d" / "250ms" to ms; undefined when it is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = PATTERN.exec(text.trim());
  if (!m) return undefined;
  const [, value, unit] = m;
  return Math.round(Number(value) * UNIT_MS[unit as keyof typeof UNIT_MS]);
}

/** Policy duration field: a non-negative integer of ms or a string with a unit, parsed to ms. */
export const duration = () =>
  z.union([z.number().int(HINT).nonnegative('must not be negative'), z.string()], { error: HINT }).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const ms = parseDurationMs(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: HINT, input: v });
      return z.NEVER;
    }
    return ms;
  });
