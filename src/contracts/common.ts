import { z } from 'zod';

/** Bounded identifier: non-empty, at most `max` characters. */
export const boundedId = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

/** A count: a finite, non-negative integer (tokens, calls, ms), exact in a double (≤ 2^53 − 1). */
export const count = () =>
  z
    .number()
    .int({ error: (issue) => (issue.code === 'invalid_type' ? 'must be an integer' : 'must be at most 2^53 - 1 (a safe integer)') })
    .nonnegative('must not be negative');

/** A finite, non-negative amount (usd, ms, ratios). JSON cannot carry NaN; 1e999 parses to Infinity and is rejected. */
export const amount = () => z.number().nonnegative('must not be negative');

/** Epoch milliseconds as a non-negative integer. */
export const epochMs = () => count();

const EVENT_TIME_HINT = 'must be epoch ms or an ISO-8601 date-time with a timezone';

/**
 * Event time: epoch ms integer or an ISO-8601 string with a timezone, normalised to epoch ms.
 * The JSON Schema shows the input side (either form). An ISO date before 1970 would normalise
 * to negative epoch ms, which no consumer expects, so it is rejected like a negative integer.
 */
export const eventTime = () =>
  z
    .union([epochMs(), z.iso.datetime({ offset: true, message: EVENT_TIME_HINT })], {
      // Both branches rejected the value's type: say why for a number (1.5, 1e999), not "Invalid input".
      error: (issue) => {
        const v = issue.input;
        if (typeof v !== 'number') return EVENT_TIME_HINT;
        return Number.isFinite(v) ? 'epoch ms must be an integer' : 'epoch ms must be a finite number';
      },
    })
    .transform((v) => (typeof v === 'number' ? v : Date.parse(v)))
    .refine((ms) => ms >= 0, 'must not be before 1970-01-01T00:00:00Z');

/** Scope of a command or finding: who it applies to. `global` uses id `*`. */
export const SCOPE_KINDS = ['run', 'user', 'tenant', 'agent', 'cohort', 'global'] as const;
export const scopeSchema = z.object({
  kind: z.enum(SCOPE_KINDS),
  id: boundedId(512),
});
export type Scope = z.infer<typeof scopeSchema>;
export type ScopeKind = Scope['kind'];
