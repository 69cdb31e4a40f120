import { describe, expect, it } from 'vitest';
import { renderSql, splitStatements } from '../../../src/store/render-sql.ts';
import { parseServerVersion } from '../../../src/store/server-version.ts';

const OLD = parseServerVersion('18.16.1'); // CI's server: neither LowCardinality nor TTL
const LC_ONLY = parseServerVersion('19.3.4'); // LowCardinality (19.3) but not TTL (19.6)
const NEW = parseServerVersion('26.7.2.1'); // chdb's engine, current releases

describe('renderSql', () => {
  it.each([
    ['LC on 18.16 is the plain type', 'kind {{LC:String}},', OLD, 'kind String,'],
    ['LC on 19.3', 'kind {{LC:String}},', LC_ONLY, 'kind LowCardinality(String),'],
    ['LC on 26.x', 'kind {{LC:String}},', NEW, 'kind LowCardinality(String),'],
    ['LC of a parametrised type', '{{LC:Nullable(String)}}', NEW, 'LowCardinality(Nullable(String))'],
    ['TTL on 18.16 disappears', 'ORDER BY id\n{{TTL:ts + INTERVAL 90 DAY}};', OLD, 'ORDER BY id\n;'],
    ['TTL on 19.3 disappears', 'ORDER BY id\n{{TTL:ts + INTERVAL 90 DAY}};', LC_ONLY, 'ORDER BY id\n;'],
    ['TTL on 26.x', 'ORDER BY id\n{{TTL:ts + INTERVAL 90 DAY}};', NEW, 'ORDER BY id\nTTL ts + INTERVAL 90 DAY;'],
    ['whitespace inside a token is trimmed', '{{ LC : String }} {{ TTL :  ts + 1 }}', NEW, 'LowCardinality(String) TTL ts + 1'],
    ['a token may span lines', '{{TTL:ts\n  + INTERVAL 1 DAY}}', NEW, 'TTL ts\n  + INTERVAL 1 DAY'],
    ['several tokens on one line', 'a {{LC:String}}, b {{LC:String}}', OLD, 'a String, b String'],
    ['text without tokens is unchanged', "SELECT '{' AS a, '}' AS b", OLD, "SELECT '{' AS a, '}' AS b"],
  ])('%s', (_name, template, version, rendered) => {
    expect(renderSql(template, version)).toBe(rendered);
  });

  it.each([
    ['unknown tag', '{{FOO:String}}', /unknown token \{\{FOO:String\}\}/],
    ['lower-case tag', '{{lc:String}}', /malformed token/],
    ['empty argument', '{{LC:}}', /malformed token/],
    ['blank argument', '{{TTL:   }}', /malformed token/],
    ['no colon', '{{LC}}', /malformed token/],
    ['empty token', '{{}}', /malformed token/],
  ])('a typo fails before reaching the server: %s', (_name, template, message) => {
    for (const version of [OLD, NEW]) expect(() => renderSql(template, version)).toThrow(message);
    expect(() => renderSql(template, OLD)).toThrow(SyntaxError);
  });
});

describe('splitStatements', () => {
  it.each<[string, string, string[]]>([
    ['one statement', 'CREATE TABLE a (x UInt8) ENGINE = Memory;\n', ['CREATE TABLE a (x UInt8) ENGINE = Memory']],
    ['two statements', 'SELECT 1;\nSELECT 2;\n', ['SELECT 1', 'SELECT 2']],
    ['last one without a trailing newline', 'SELECT 1;\nSELECT 2;', ['SELECT 1', 'SELECT 2']],
    ['last one without a semicolon', 'SELECT 1;\nSELECT 2\n', ['SELECT 1', 'SELECT 2']],
    ['spaces and tabs after the semicolon', 'SELECT 1; \t\nSELECT 2;', ['SELECT 1', 'SELECT 2']],
    ['CRLF line ends', 'SELECT 1;\r\nSELECT 2;\r\n', ['SELECT 1', 'SELECT 2']],
    ['a semicolon inside a line stays', "SELECT 'a;b' AS x;\n", ["SELECT 'a;b' AS x"]],
    ['a statement across lines stays whole', 'CREATE TABLE a\n(\n    x UInt8\n)\nENGINE = Memory;\n', ['CREATE TABLE a\n(\n    x UInt8\n)\nENGINE = Memory']],
    ['a leading comment stays with its statement', '-- why\nSELECT 1;\n', ['-- why\nSELECT 1']],
    ['comment-only chunks are dropped', 'SELECT 1;\n-- trailer;\n-- more\n', ['SELECT 1']],
    [
      'a comment line ending with ; does not end the statement',
      'CREATE TABLE a\n(\n    -- one row per run;\n    x UInt8\n)\nENGINE = Memory;\n',
      ['CREATE TABLE a\n(\n    -- one row per run;\n    x UInt8\n)\nENGINE = Memory'],
    ],
    ['nothing but comments and blanks', '-- a\n\n  -- b\n', []],
    ['empty', '', []],
  ])('%s', (_name, sql, statements) => {
    expect(splitStatements(sql)).toEqual(statements);
  });
});
