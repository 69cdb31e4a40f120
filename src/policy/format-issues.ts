import type { z } from 'zod';

/** `a.b.c: message (got value)` — the shape every policy error takes. */
export function formatIssue(path: readonly PropertyKey[], message: string, input?: unknown, hasInput = false): string {
  const where = path.length ? path.map(String).join('.') : '(policy)';
  return hasInput ? `${where}: ${message} (got ${showValue(input)})` : `${where}: ${message}`;
}

/** Zod issues as lines; parse with `{ reportInput: true }` so the offending value is shown. */
export function formatZodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.map((iss) => {
    const showInput = 'input' in iss && iss.code !== 'unrecognized_keys' && iss.input !== undefined && (iss.input === null || typeof iss.input !== 'object');
    return formatIssue([...prefix, ...iss.path], iss.message, iss.input, showInput);
  });
}

function showValue(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
