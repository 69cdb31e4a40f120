import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { sqlNumber } from '../../src/store/sql-literal.ts';

const ROOT = new URL('../../', import.meta.url);
export const repoPath = (p: string): string => new URL(p, ROOT).pathname;

const target = z.object({ refId: z.string(), rawSql: z.string().min(1), datasource: z.object({ type: z.string(), uid: z.string() }) });
const panel = z.object({
  id: z.number().int(),
  type: z.string(),
  title: z.string().min(1),
  datasource: z.object({ type: z.string(), uid: z.string() }),
  gridPos: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
  targets: z.array(target).min(1),
});
export const dashboardSchema = z.object({ uid: z.string(), title: z.string(), panels: z.array(panel).min(1) });
export type Dashboard = z.infer<typeof dashboardSchema>;

/** The dashboard checked in under deploy/grafana/dashboards, validated. */
export function loadDashboard(): Dashboard {
  return dashboardSchema.parse(JSON.parse(readFileSync(repoPath('deploy/grafana/dashboards/runwarden.json'), 'utf8')));
}

/** The Grafana ClickHouse plugin macros the dashboard may use. */
export const KNOWN_MACROS = ['$__timeFilter'] as const;

/**
 * A panel's SQL as the plugin would send it for the time range [fromMs, toMs]: `$__timeFilter(col)`
 * becomes `col >= toDateTime(from) AND col <= toDateTime(to)` (seconds, UTC), as the plugin renders it.
 */
export function expandMacros(sql: string, fromMs: number, toMs: number): string {
  const from = `toDateTime(${sqlNumber(Math.floor(fromMs / 1000))}, 'UTC')`;
  const to = `toDateTime(${sqlNumber(Math.ceil(toMs / 1000))}, 'UTC')`;
  return sql.replace(/\$__timeFilter\(([A-Za-z_][A-Za-z0-9_.]*)\)/g, (_, col: string) => `${col} >= ${from} AND ${col} <= ${to}`);
}
