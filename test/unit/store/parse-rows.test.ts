import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StoreError, StoreRowError } from '../../../src/store/errors.ts';
import { parseRows } from '../../../src/store/parse-rows.ts';

// 64-bit integers arrive from ClickHouse as JSON strings, hence the coercion.
const runRow = z.object({ run_id: z.string(), llm_calls: z.coerce.number(), status: z.enum(['ok', 'aborted', '']) });

function rowError(rows: unknown[]): StoreRowError {
  try {
    parseRows(rows, runRow);
  } catch (err) {
    if (err instanceof StoreRowError) return err;
    throw err;
  }
  throw new Error('parseRows accepted the rows');
}

describe('parseRows', () => {
  it('returns the parsed rows, coerced by the schema', () => {
    const rows = [
      { run_id: 'r1', llm_calls: '3', status: 'ok' },
      { run_id: 'r2', llm_calls: 0, status: '' },
    ];
    expect(parseRows(rows, runRow)).toEqual([
      { run_id: 'r1', llm_calls: 3, status: 'ok' },
      { run_id: 'r2', llm_calls: 0, status: '' },
    ]);
  });

  it('returns nothing for no rows', () => {
    expect(parseRows([], runRow)).toEqual([]);
  });

  it.each<[string, unknown[], number, RegExp]>([
    ['a missing column', [{ run_id: 'r1', llm_calls: 1, status: 'ok' }, { run_id: 'r2', status: 'ok' }], 1, /llm_calls/],
    ['a wrong type', [{ run_id: 42, llm_calls: 1, status: 'ok' }], 0, /run_id/],
    ['a value outside the enum', [{ run_id: 'r', llm_calls: 1, status: 'ok' }, { run_id: 'r', llm_calls: 1, status: 'ok' }, { run_id: 'r', llm_calls: 1, status: 'weird' }], 2, /status/],
    ['a non-numeric count', [{ run_id: 'r', llm_calls: 'many', status: 'ok' }], 0, /llm_calls/],
    ['a row that is not an object', [null], 0, /\(row\)/],
  ])('%s throws a StoreRowError naming the row index and the column', (_name, rows, index, column) => {
    const err = rowError(rows);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.rowIndex).toBe(index);
    expect(err.row).toBe(rows[index]);
    expect(err.message).toMatch(new RegExp(`^row ${index} does not match its schema: `));
    expect(err.message).toMatch(column);
    // A bad row is a bug in a query or a schema: retrying cannot help.
    expect(err.retriable).toBe(false);
  });

  it('names the first bad row when several are bad', () => {
    const good = { run_id: 'r', llm_calls: 1, status: 'ok' };
    const err = rowError([good, { ...good, status: 'x' }, { ...good, llm_calls: 'x' }]);
    expect(err.rowIndex).toBe(1);
    expect(err.message).toMatch(/status/);
  });

  it('keeps the message short for a huge row', () => {
    const err = rowError([{ run_id: 'r', llm_calls: 1, status: 'nope', blob: 'x'.repeat(10_000) }]);
    expect(err.message.length).toBeLessThan(600);
    expect(err.message).toMatch(/…$/);
  });
});
