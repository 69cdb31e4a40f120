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
