import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindParams, type QueryParam } from '../store/bind-params.ts';

/** The report's queries: sql/queries/report/<name>.sql, each with a `-- Question:` header. */
export const REPORT_QUERIES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../sql/queries/report');

export const REPORT_QUERIES = ['spend_by_cohort', 'top_runaways', 'aborts_by_reason', 'judge_drift', 'judge_by_cohort', 'budget_spend', 'budget_findings'] as const;
export type ReportQuery = (typeof REPORT_QUERIES)[number];

/** The text of one report query with its parameters bound as literals (bind-params.ts). */
export async function reportSql(name: ReportQuery, params: Readonly<Record<string, QueryParam>>): Promise<string> {
  const text = await readFile(join(REPORT_QUERIES_DIR, `${name}.sql`), 'utf8');
  return bindParams(text.trim().replace(/;\s*$/, ''), params);
}
