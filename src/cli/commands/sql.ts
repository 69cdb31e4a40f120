import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { z } from 'zod';
import { StoreError } from '../../store/errors.ts';
import { createContext, openConfiguredStore } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { renderTable } from '../table.ts';

/** The analyst queries shipped in sql/queries, by file name without `.sql`. */
export const QUERIES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../sql/queries');

const anyRow = z.record(z.string(), z.unknown());

export function registerSql(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('sql')
    .description('run a read-only query against the store (server or embedded) and print the rows')
    .argument('[query]', 'SQL text; unqualified tables resolve to the runwarden database')
    .option('-q, --query-name <name>', 'a shipped analyst query from sql/queries (e.g. spend_by_day)')
    .option('-f, --file <path>', 'read the SQL from a file')
    .option('--json', 'print JSON Lines instead of a table')
    .option('--list', 'list the shipped analyst queries with the question each answers')
    .action(async (text: string | undefined, opts: { queryName?: string; file?: string; json?: boolean; list?: boolean }) => {
      if (opts.list) {
        for (const [name, question] of await listQueries()) process.stdout.write(`${name.padEnd(20)} ${question}\n`);
        return;
      }
      const sql = await sqlFrom(text, opts);
      const ctx = createContext(env);
      const store = await openConfiguredStore(ctx);
      try {
        const rows = await store.query(sql, anyRow);
        if (opts.json) for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
        else process.stdout.write(renderTable(rows));
      } catch (err) {
        if (err instanceof StoreError && !err.retriable) throw new CliError(`query failed: ${err.message}`, EXIT.usage);
        throw err;
      } finally {
        await store.close();
      }
    });
}

async function sqlFrom(text: string | undefined, opts: { queryName?: string; file?: string }): Promise<string> {
  const given = [text, opts.queryName, opts.file].filter((v) => v !== undefined).length;
  if (given !== 1) throw new CliError('give exactly one of: SQL text, --query-name NAME, --file PATH (see --list)', EXIT.usage);
  if (text !== undefined) return text;
  const path = opts.file ?? join(QUERIES_DIR, `${basename(opts.queryName ?? '')}.sql`);
  try {
    // A trailing `;` is harmless to clickhouse-client but not to the HTTP interface.
    return (await readFile(path, 'utf8')).trim().replace(/;\s*$/, '');
  } catch (err) {
    const hint = opts.queryName === undefined ? '' : ' (runwarden sql --list shows the shipped queries)';
    throw new CliError(`cannot read ${path}: ${(err as Error).message}${hint}`, EXIT.input);
  }
}

/** [name, question] of every shipped query, from the `-- Question:` line each file starts with. */
async function listQueries(): Promise<Array<[string, string]>> {
  const files = (await readdir(QUERIES_DIR)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (f): Promise<[string, string]> => {
      const head = (await readFile(join(QUERIES_DIR, f), 'utf8')).split('\n').find((l) => l.startsWith('-- Question:'));
      return [f.slice(0, -4), head?.replace('-- Question:', '').trim() ?? ''];
    }),
  );
}
