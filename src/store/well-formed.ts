import { wellFormed } from '../util/well-formed.ts';

export { wellFormed };

/** Any surrogate at all: a plain character class, far cheaper than the lone-surrogate pattern, and true for few strings. */
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

function wellFormedValue(value: unknown): unknown {
  if (typeof value === 'string') return ANY_SURROGATE.test(value) ? wellFormed(value) : value;
  if (Array.isArray(value)) {
    let mapped: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const fixed = wellFormedValue(value[i]);
      if (fixed !== value[i]) (mapped ??= [...value])[i] = fixed;
    }
    return mapped ?? value;
  }
  return value;
}

/**
 * Rows ClickHouse can parse. JSON lets a string carry a lone surrogate (`"\ud800"`) and the span
 * schemas accept one, but it has no UTF-8 form: 18.16 and 26.x both reject its escape (code 25,
 * not retriable) and with it the whole batch, so one such event would stall its partition behind
 * an insert that can never succeed. Strings, also inside arrays, get U+FFFD instead. Rows without
 * a lone surrogate are returned as they are, uncopied, and so is the array when no row changed.
 * Every row of every insert passes here: a loop with no per-row allocation, and strings without
 * any surrogate skip the lone-surrogate pattern (bench/clickhouse-insert.ts).
 */
export function wellFormedRows(rows: readonly Record<string, unknown>[]): readonly Record<string, unknown>[] {
  let out: Record<string, unknown>[] | undefined;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const key in row) {
      if (!Object.hasOwn(row, key)) continue;
      const value = row[key];
      const fixed = wellFormedValue(value);
      if (fixed !== value) (copy ??= { ...row })[key] = fixed;
    }
    if (copy) (out ??= rows.slice())[i] = copy;
  }
  return out ?? rows;
}
