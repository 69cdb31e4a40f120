/**
 * SQL literals for the places where a value must appear in the statement text: ClickHouse 18.16
 * has no server-side query parameters. Every value goes through one of these functions, never
 * through string concatenation, and each either returns a literal ClickHouse parses back to the
 * very same value or throws.
 */

/** A value `sqlLiteral` can quote. Booleans become 1/0 (ClickHouse 18.16 has no Bool type). */
export type SqlValue = string | number | bigint | boolean | null | readonly SqlValue[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Escapes for the characters ClickHouse's string literal parser treats specially. */
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A single-quoted ClickHouse string literal. Backslash and quote are escaped, control characters
 * (U+0000–U+001F, U+007F) become `\xHH` or their short escape so the statement stays one printable
 * line. Throws on lone UTF-16 surrogates: they have no UTF-8 form, so no literal could round-trip.
 */
export function sqlString(value: string): string {
  if (LONE_SURROGATE.test(value)) throw new TypeError('sqlString: string contains a lone UTF-16 surrogate');
  const body = value.replace(/[\\'\x00-\x1f\x7f]/g, (ch) => ESCAPES[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `'${body}'`;
}

/**
 * A numeric literal. Non-finite numbers are refused (ClickHouse would read `nan`/`inf` but they
 * never belong in our queries). Negative numbers are parenthesised so `a - (-1)` stays an expression.
 */
export function sqlNumber(value: number | bigint): string {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`sqlNumber: ${value} is not finite`);
  const text = typeof value === 'bigint' ? value.toString() : Object.is(value, -0) ? '0' : String(value);
  return text.startsWith('-') ? `(${text})` : text;
}

/** A database, table or column name, validated rather than quoted: `^[A-Za-z_][A-Za-z0-9_]*$`. */
export function sqlIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`sqlIdentifier: ${JSON.stringify(name)} is not a plain identifier`);
  return name;
}

/** Any SqlValue as a literal: strings, finite numbers, bigints, booleans (1/0), NULL, arrays. */
export function sqlLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return sqlString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number' || typeof value === 'bigint') return sqlNumber(value);
  return `[${value.map(sqlLiteral).join(', ')}]`;
}
