import { z } from 'zod';

/**
 * Field builders for the policy file. Messages say what a valid value looks like; the loader
 * prefixes the path and appends the value it got, e.g.
 * `agents.support-bot.step_cap.max_llm_calls: must be a positive integer (got -3)`.
 */

export const positiveInt = () =>
  z.number({ error: 'must be a positive integer' }).int('must be a positive integer').positive('must be a positive integer');

export const positiveAmount = (unit: string) =>
  z.number({ error: `must be a positive number (${unit})` }).positive(`must be a positive number (${unit})`);

/** A ratio in (0, 1]. */
export const ratio = () =>
  z.number({ error: 'must be a number between 0 and 1' }).gt(0, 'must be greater than 0 and at most 1').lte(1, 'must be greater than 0 and at most 1');

/**
 * A cohort dimension: an owner id (`agent_id`, `tenant_id`, `user_id`), `model` (the model of an
 * LLM call) or an attribute name (`model_version`, `plan_tier`, …). No `,` or `=`: they delimit
 * the cohort scope id (`agent_id=bot,model_version=v2`).
 */
export const cohortDimension = () =>
  z
    .string({ error: 'must be a dimension name' })
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be a dimension name: 1 to 128 letters, digits or _ . : -');

/**
 * A list of `min` to 8 distinct cohort dimensions. Lengths are refinements, not `.min`/`.max`:
 * zod runs length checks on a string that failed the array type too, and reports both.
 */
export const cohortDimensions = (min: number) =>
  z
    .array(cohortDimension(), { error: 'must be a list of dimension names' })
    .refine((dims) => dims.length >= min, `needs at least ${min} dimension${min === 1 ? '' : 's'}`)
    .refine((dims) => dims.length <= 8, 'must have at most 8 dimensions')
    .refine((dims) => new Set(dims).size === dims.length, 'must not repeat a dimension');

export const flag = () => z.boolean({ error: 'must be true or false (a YAML/JSON boolean, not a string)' });

/**
 * An object that rejects unknown fields (a typo such as `max_llm_call` must not silently keep
 * the default) and lists the fields it knows.
 */
export function strictSection<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        return `unknown field ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}; expected one of: ${known}`;
      }
      if (iss.code === 'invalid_type') return `must be a mapping with fields: ${known}`;
      return undefined;
    },
  });
}

/**
 * A cross-field problem of one section (a detector's params): `path` is the field to change,
 * `fields` every field it involves (so the loader can tell a problem an override introduced from
 * one it inherited).
 */
export interface SectionIssue<K extends string = string> {
  path: K;
  fields: readonly K[];
  message: string;
}
