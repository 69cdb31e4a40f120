import { z } from 'zod';

/** Bounded identifier: non-empty, at most `max` characters. */
export const boundedId = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

/** A count: a finite, non-negative integer (tokens, calls, ms). */
export const count = () => z.number().int('must be an integer').nonnegative('must not be negative');

/** A finite, non-negative amount (usd, ms, ratios). JSON cannot carry NaN; 1e999 parses to Infinity and is rejected. */
export const amount = () => z.number().nonnegative('must not be negative');

/** Epoch milliseconds as a non-negative integer. */
export const epochMs = () => count();

/**
 * Event time: epoch ms integer or an ISO-8601 string with a timezone, normalised to epoch ms.
 * The JSON Schema shows the input side (either form).
 */
export const eventTime = () =>
  z
    .union([epochMs(), z.iso.datetime({ offset: true, message: 'must be epoch ms or an ISO-8601 date-time with a timezone' })])
    .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

/** Scope of a command or finding: who it applies to. `global` uses id `*`. */
export const SCOPE_KINDS = ['run', 'user', 'tenant', 'agent', 'cohort', 'global'] as const;
export const scopeSchema = z.object({
  kind: z.enum(SCOPE_KINDS),
  id: boundedId(512),
});
export type Scope = z.infer<typeof scopeSchema>;
export type ScopeKind = Scope['kind'];
