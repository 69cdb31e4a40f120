import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sqlIdentifier, sqlLiteral, sqlNumber, sqlString, type SqlValue } from '../../../src/store/sql-literal.ts';

/**
 * Reads a single-quoted ClickHouse string literal the way ClickHouse's lexer does (a backslash
 * escapes the next character; `\xHH`, `\0`, `\b`, `\f`, `\n`, `\r`, `\t` decode; a bare quote
 * ends the literal) and returns the value plus whatever followed the closing quote. The real
 * round trip through both engines is in test/integration/store.test.ts; this one checks the
 * invariant without I/O: the literal ends exactly where sqlString says, so nothing after it can
 * become SQL.
 */
function readLiteral(sql: string): { value: string; rest: string } {
  if (sql[0] !== "'") throw new Error(`not a literal: ${sql}`);
  const simple: Record<string, string> = { '0': '\0', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  let value = '';
  for (let i = 1; i < sql.length; i++) {
    const ch = sql[i] as string;
    if (ch === "'") return { value, rest: sql.slice(i + 1) };
    if (ch !== '\\') {
      value += ch;
      continue;
    }
    const next = sql[++i];
    if (next === undefined) throw new Error('dangling backslash');
    if (next === 'x') {
      value += String.fromCharCode(Number.parseInt(sql.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      value += simple[next] ?? next;
    }
  }
  throw new Error(`unterminated literal: ${sql}`);
}

describe('sqlString', () => {
  it.each([
    ['plain', 'support-bot', "'support-bot'"],
    ['empty', '', "''"],
    ['single quote', "o'brien", "'o\\'brien'"],
    ['doubled quote (SQL-standard escape is not used)', "''", "'\\'\\''"],
    ['backslash', 'C:\\temp', "'C:\\\\temp'"],
    ['backslash before quote', "\\'", "'\\\\\\''"],
    ['NUL', 'a\0b', "'a\\0b'"],
    ['newline, CR, tab', 'a\nb\rc\td', "'a\\nb\\rc\\td'"],
    ['backspace and form feed', '\b\f', "'\\b\\f'"],
    ['other C0 controls as \\xHH', '\x01\x1b\x1f', "'\\x01\\x1b\\x1f'"],
    ['DEL', '\x7f', "'\\x7f'"],
    ['unicode passes through', 'naïve 日本 😀', "'naïve 日本 😀'"],
    ['C1 control and line separator pass through', '\u0085\u2028', "'\u0085\u2028'"],
    ['double quote and backtick are not special', '"`', "'\"`'"],
  ])('%s', (_name, value, literal) => {
    expect(sqlString(value)).toBe(literal);
    expect(readLiteral(literal)).toEqual({ value, rest: '' });
  });

  it.each([
    "x' OR 1=1 --",
    "'; DROP TABLE spans; --",
    "\\'; DROP TABLE spans; --",
    "\\\\'; DROP TABLE spans; --",
    "x\0'; DROP TABLE spans; --",
    "x\n'; DROP TABLE spans; --",
    "x\\x27; DROP TABLE spans; --",
    "'/* */ UNION ALL SELECT 1 --",
  ])('injection attempt %j stays one literal', (attack) => {
    const literal = sqlString(attack);
    expect(readLiteral(literal)).toEqual({ value: attack, rest: '' });
    expect(literal).not.toMatch(/[\x00-\x1f\x7f]/);
  });

  it.each([
    ['lone high surrogate', 'a\uD83Db'],
    ['lone low surrogate', 'a\uDE00b'],
    ['high surrogate at the end', 'abc\uD83D'],
    ['reversed pair', '\uDE00\uD83D'],
  ])('refuses a %s (no UTF-8 form, so no round trip)', (_name, value) => {
    expect(() => sqlString(value)).toThrow(TypeError);
  });

  it('property: any well-formed string reads back exactly and the literal ends where it should', () => {
    const special = fc.constantFrom("'", '\\', '\0', '\n', '\r', '\t', '\x7f', '\x01', 'x', '😀', '\\x41', "\\'");
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.array(special, { maxLength: 20 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(text, (value) => {
        const literal = sqlString(value);
        const read = readLiteral(literal);
        // One printable line: no raw control characters reach the statement text.
        return read.value === value && read.rest === '' && !/[\x00-\x1f\x7f]/.test(literal);
      }),
    );
  });
});

describe('sqlNumber', () => {
  it.each<[string, number | bigint, string]>([
    ['zero', 0, '0'],
    ['negative zero', -0, '0'],
    ['integer', 42, '42'],
    ['fraction', 0.25, '0.25'],
    ['negative is parenthesised', -1.5, '(-1.5)'],
    ['large', 1e21, '1e+21'],
    ['small', 1e-7, '1e-7'],
    ['max safe integer', Number.MAX_SAFE_INTEGER, '9007199254740991'],
    ['bigint beyond 2^53', 2n ** 64n - 1n, '18446744073709551615'],
    ['negative bigint', -5n, '(-5)'],
  ])('%s', (_name, value, literal) => {
    expect(sqlNumber(value)).toBe(literal);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('refuses %s', (value) => {
    expect(() => sqlNumber(value)).toThrow(RangeError);
  });

  it('property: a finite number reads back to itself and never starts with a bare minus', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const literal = sqlNumber(value);
        expect(literal).not.toMatch(/^-/);
        expect(Number(literal.replace(/^\((.*)\)$/, '$1'))).toBe(Object.is(value, -0) ? 0 : value);
      }),
    );
  });
});

describe('sqlIdentifier', () => {
  it.each(['spans', 'rw_test_0a1b2c3d4e', '_private', 'T1', 'a'])('accepts %j', (name) => {
    expect(sqlIdentifier(name)).toBe(name);
  });

  it.each(['', '1abc', 'a.b', 'a b', 'a-b', 'a;DROP TABLE x', '`spans`', '"spans"', "sp'ans", 'spans\n', 'naïve', 'a\0'])(
    'refuses %j',
    (name) => {
      expect(() => sqlIdentifier(name)).toThrow(TypeError);
    },
  );
});

describe('sqlLiteral', () => {
  it.each<[string, SqlValue, string]>([
    ['NULL', null, 'NULL'],
    ['true', true, '1'],
    ['false', false, '0'],
    ['string', "it's", "'it\\'s'"],
    ['number', -2, '(-2)'],
    ['bigint', 10n, '10'],
    ['empty array', [], '[]'],
    ['array of mixed scalars', ['a', 1, null, false], "['a', 1, NULL, 0]"],
    ['nested arrays', [['x'], [], ["'"]], "[['x'], [], ['\\'']]"],
  ])('%s', (_name, value, literal) => {
    expect(sqlLiteral(value)).toBe(literal);
  });

  it('refuses what its parts refuse, however deep', () => {
    expect(() => sqlLiteral([1, [Number.NaN]])).toThrow(RangeError);
    expect(() => sqlLiteral([['\uD800']])).toThrow(TypeError);
  });
});
