import type { z } from 'zod';

/** `a.b.c: message (got value)` — the shape every policy error takes. */
export function formatIssue(path: readonly PropertyKey[], message: string, input?: unknown, hasInput = false): string {
  const where = path.length ? path.map(segment).join('') : '(policy)';
  return hasInput ? `${where}: ${message} (got ${showValue(input)})` : `${where}: ${message}`;
}

/** Zod issues as lines; parse with `{ reportInput: true }` so the offending value is shown. */
export function formatZodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.map((iss) => {
    const showInput = 'input' in iss && iss.code !== 'unrecognized_keys' && iss.input !== undefined && (iss.input === null || typeof iss.input !== 'object');
    return formatIssue([...prefix, ...iss.path], iss.message, iss.input, showInput);
  });
}

/**
 * One path segment: `.name` for plain keys; `[1]` for a list index; `["bot.v2"]` for a key that is empty or holds a dot,
 * a space or other punctuation (agent ids and model names are free text), so the path stays unambiguous.
 */
function segment(key: PropertyKey, index: number): string {
  if (typeof key === 'number') return `[${key}]`;
  const text = typeof key === 'symbol' ? String(key) : String(key);
  if (/^[A-Za-z0-9_-]+$/.test(text)) return index === 0 ? text : `.${text}`;
  return `[${JSON.stringify(text)}]`;
}

function showValue(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
