import { wellFormed } from '../util/well-formed.ts';

export { wellFormed };

function wellFormedValue(value: unknown): unknown {
  if (typeof value === 'string') return wellFormed(value);
  if (Array.isArray(value)) {
    const mapped = value.map(wellFormedValue);
    return mapped.some((v, i) => v !== value[i]) ? mapped : value;
  }
  return value;
}

/**
 * Rows ClickHouse can parse. JSON lets a string carry a lone surrogate (`"\ud800"`) and the span
 * schemas accept one, but it has no UTF-8 form: 18.16 and 26.x both reject its escape (code 25,
 * not retriable) and with it the whole batch, so one such event would stall its partition behind
 * an insert that can never succeed. Strings, also inside arrays, get U+FFFD instead. Rows without
 * a lone surrogate are returned as they are, uncopied.
 */
export function wellFormedRows(rows: readonly Record<string, unknown>[]): readonly Record<string, unknown>[] {
  return rows.map((row) => {
    let copy: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(row)) {
      const fixed = wellFormedValue(value);
      if (fixed !== value) (copy ??= { ...row })[key] = fixed;
    }
    return copy ?? row;
  });
}
