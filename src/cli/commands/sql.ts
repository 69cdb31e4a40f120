import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { z } from 'zod';
import { bindParams, QueryParamError, queryParams, type QueryParam } from '../../store/bind-params.ts';
import { StoreError } from '../../store/errors.ts';
import { createContext, openConfiguredStore } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { renderTable } from '../table.ts';

/** The analyst queries shipped in sql/queries (and the report's in sql/queries/report), by name without `.sql`. */
export const QUERIES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../sql/queries');
const SUBDIRS = ['', 'report'] as const;

const anyRow = z.record(z.string(), z.unknown());

interface SqlOptions {
  queryName?: string;
  file?: string;
  json?: boolean;
  list?: boolean;
  param: string[];
}

export function registerSql(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('sql')
    .description('run a read-only query against the store (server or embedded) and print the rows')
    .argument('[query]', 'SQL text; unqualified tables resolve to the runwarden database')
    .option('-q, --query-name <name>', 'a shipped analyst query (e.g. spend_by_day, report/top_runaways; see --list)')
    .option('-f, --file <path>', 'read the SQL from a file')
    .option('-p, --param <name=value>', 'a value for a {name:Type} placeholder (repeatable), as clickhouse-client --param_name', collect, [])
    .option('--json', 'print JSON Lines instead of a table')
    .option('--list', 'list the shipped analyst queries with the question each answers')
    .addHelpText(
      'after',
      `
Tables: spans (read with FINAL), runs, cohort_minute, findings, control_commands, dlq_events.
The store is the ClickHouse server at CLICKHOUSE_URL, else the embedded one in RUNWARDEN_DATA_DIR.

Examples:
  npx runwarden sql --list
  npx runwarden sql -q investigation_queue
  npx runwarden sql -q report/top_runaways -p since_ms=0 -p limit=10 --json
  npx runwarden sql "SELECT tenant_id, sum(cost_nusd) / 1e9 AS usd FROM cohort_minute GROUP BY tenant_id ORDER BY usd DESC"
  npx runwarden sql -f my-question.sql`,
    )
    .action(async (text: string | undefined, opts: SqlOptions) => {
      if (opts.list) {
        for (const [name, question] of await listQueries()) process.stdout.write(`${name.padEnd(28)} ${question}\n`);
        return;
      }
      const sql = bind(await sqlFrom(text, opts), opts.param);
      const ctx = createContext(env);
      const store = await openConfiguredStore(ctx);
      try {
        const rows = await store.query(sql, anyRow);
        if (opts.json) for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
        else process.stdout.write(renderTable(rows));
      } catch (err) {
        if (err instanceof StoreError && !err.retriable) throw new CliError(`query failed: ${err.message}\n(runwarden sql --help lists the tables; runwarden migrate creates them)`, EXIT.usage);
        throw err;
      } finally {
        await store.close();
      }
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Binds `--param name=value` into the query's `{name:Type}` placeholders; a query without any is left alone. */
function bind(sql: string, given: readonly string[]): string {
  const params: Record<string, QueryParam> = {};
  for (const p of given) {
    const at = p.indexOf('=');
    if (at <= 0) throw new CliError(`--param: write name=value (got "${p}")`, EXIT.usage);
    params[p.slice(0, at)] = p.slice(at + 1);
  }
  if (given.length === 0 && queryParams(sql).size === 0) return sql;
  try {
    return bindParams(sql, params);
  } catch (err) {
    if (err instanceof QueryParamError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

async function sqlFrom(text: string | undefined, opts: { queryName?: string; file?: string }): Promise<string> {
  const given = [text, opts.queryName, opts.file].filter((v) => v !== undefined).length;
  if (given !== 1) throw new CliError('give exactly one of: SQL text, --query-name NAME, --file PATH (see --list)', EXIT.usage);
  if (text !== undefined) return text;
  let path = opts.file;
  if (opts.queryName !== undefined) {
    // Only names from the list: a name is never a path.
    const known = new Map((await listQueries()).map(([name]) => [name, join(QUERIES_DIR, `${name}.sql`)]));
    path = known.get(opts.queryName);
    if (path === undefined) throw new CliError(`no shipped query named "${opts.queryName}" (runwarden sql --list shows them)`, EXIT.usage);
  }
  try {
    // A trailing `;` is harmless to clickhouse-client but not to the HTTP interface.
    return (await readFile(path as string, 'utf8')).trim().replace(/;\s*$/, '');
  } catch (err) {
    throw new CliError(`cannot read ${String(path)}: ${(err as Error).message}`, EXIT.input);
  }
}

/** [name, question] of every shipped query, from the `-- Question:` line each file starts with. */
async function listQueries(): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const sub of SUBDIRS) {
    const dir = join(QUERIES_DIR, sub);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
    for (const f of files) {
      const head = (await readFile(join(dir, f), 'utf8')).split('\n').find((l) => l.startsWith('-- Question:'));
      out.push([sub ? `${sub}/${f.slice(0, -4)}` : f.slice(0, -4), head?.replace('-- Question:', '').trim() ?? '']);
    }
  }
  return out;
}
