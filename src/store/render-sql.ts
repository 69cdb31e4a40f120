import { supports, type ServerVersion } from './server-version.ts';

/**
 * Renders a migration template for one server version. The templating is deliberately tiny;
 * it exists only for features that old servers (18.16, what CI runs) lack:
 *
 * - `{{LC:T}}` → `LowCardinality(T)` where supported (19.3+), plain `T` otherwise.
 *   Example: `agent_id {{LC:String}}`.
 * - `{{TTL:expr}}` → `TTL expr` where supported (19.6+), nothing otherwise. It goes after
 *   ORDER BY. Example: `{{TTL:ts + INTERVAL 90 DAY}}`.
 *
 * Any other `{{…}}` is an error, so a typo fails the migration instead of reaching the server.
 * A table created on an old server keeps its plain types after the server is upgraded:
 * `CREATE TABLE IF NOT EXISTS` does not alter existing tables (a later migration can).
 */
export function renderSql(template: string, version: ServerVersion): string {
  return template.replace(/\{\{([\s\S]*?)\}\}/g, (token, inner: string) => {
    const match = /^\s*([A-Z]+)\s*:\s*([\s\S]*?)\s*$/.exec(inner);
    const tag = match?.[1];
    const arg = match?.[2];
    if (tag === undefined || arg === undefined || arg === '') throw new SyntaxError(`renderSql: malformed token ${token}`);
    switch (tag) {
      case 'LC':
        return supports(version, 'lowcardinality') ? `LowCardinality(${arg})` : arg;
      case 'TTL':
        return supports(version, 'ttl') ? `TTL ${arg}` : '';
      default:
        throw new SyntaxError(`renderSql: unknown token ${token} (known: {{LC:type}}, {{TTL:expr}})`);
    }
  });
}

/**
 * Splits a rendered migration into statements: each ends with `;` at the end of a line.
 * Comment-only chunks are dropped. (Semicolons inside a line, e.g. in a string literal, stay.)
 * A whole-line `--` comment never ends a statement, even when its text ends with `;`.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let lines: string[] = [];
  const flush = (): void => {
    const chunk = lines.join('\n').trim();
    if (chunk.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--'))) statements.push(chunk);
    lines = [];
  };
  for (const line of sql.split(/\r?\n/)) {
    const end = /;[ \t]*$/.exec(line);
    if (end === null || line.trim().startsWith('--')) {
      lines.push(line);
      continue;
    }
    lines.push(line.slice(0, end.index));
    flush();
  }
  flush();
  return statements;
}
