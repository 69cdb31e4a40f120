import type { z } from 'zod';
import { StoreRowError } from './errors.ts';

/**
 * Validates result rows with the caller's schema: no unchecked casts of query results.
 * Throws a StoreRowError naming the first row that does not match, and why.
 */
export function parseRows<T>(rows: readonly unknown[], schema: z.ZodType<T>): T[] {
  return rows.map((row, index) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((issue) => `${issue.path.join('.') || '(row)'}: ${issue.message}`)
        .join('; ');
      throw new StoreRowError(index, row, issues, parsed.error);
    }
    return parsed.data;
  });
}
