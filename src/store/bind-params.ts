import { sqlNumber, sqlString } from './sql-literal.ts';

/** A value for a `{name:Type}` placeholder. */
export type QueryParam = string | number;

/** ClickHouse's query-parameter syntax: `{name:Type}` (e.g. `{since_ms:UInt64}`). */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z][A-Za-z0-9]*)\}/g;
const INTEGER_TYPES = /^U?Int(8|16|32|64)$/;
const FLOAT_TYPES = /^Float(32|64)$/;

/** A parameter is missing, unknown to the query, or of the wrong type; the message names it. */
export class QueryParamError extends Error {
  override readonly name = 'QueryParamError';
  readonly retriable = false;
}

/** The placeholders of a query, by name, with their ClickHouse type. */
export function queryParams(sql: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [, name, type] of sql.matchAll(PLACEHOLDER)) params.set(name as string, type as string);
  return params;
}

/**
 * Binds ClickHouse query parameters (`{name:Type}`) as literals: the analyst queries keep the
 * syntax clickhouse-client understands (`--param_name=…`), and still run on 18.16, which has no
 * server-side parameters. Every value goes through sql-literal.ts (never concatenated), is checked
 * against its type (integers for (U)IntN, finite numbers for FloatN, anything as a String), and
 * every placeholder must be given. Unsupported types are refused rather than guessed.
 */
export function bindParams(sql: string, params: Readonly<Record<string, QueryParam>>): string {
  const wanted = queryParams(sql);
  for (const name of Object.keys(params)) {
    if (!wanted.has(name)) throw new QueryParamError(`the query has no parameter "${name}" (it has: ${[...wanted.keys()].join(', ') || 'none'})`);
  }
  return sql.replace(PLACEHOLDER, (_, name: string, type: string) => {
    if (!Object.hasOwn(params, name)) throw new QueryParamError(`parameter "${name}" (${type}) is not set: give it as --param ${name}=VALUE`);
    const value = params[name] as QueryParam;
    if (type === 'String') return sqlString(String(value));
    const n = typeof value === 'number' ? value : Number(value);
    if (INTEGER_TYPES.test(type)) {
      if (!Number.isSafeInteger(n) || (type.startsWith('U') && n < 0)) throw new QueryParamError(`parameter "${name}" must be ${type.startsWith('U') ? 'a whole number ≥ 0' : 'a whole number'} (${type}); got ${String(value)}`);
      return sqlNumber(n);
    }
    if (FLOAT_TYPES.test(type)) {
      if (typeof value === 'string' && value.trim() === '') throw new QueryParamError(`parameter "${name}" must be a number (${type}); got an empty string`);
      if (!Number.isFinite(n)) throw new QueryParamError(`parameter "${name}" must be a finite number (${type}); got ${String(value)}`);
      return sqlNumber(n);
    }
    throw new QueryParamError(`parameter "${name}": type ${type} is not supported (use String, (U)IntN or FloatN)`);
  });
}
