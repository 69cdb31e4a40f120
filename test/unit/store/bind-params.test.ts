import { describe, expect, it } from 'vitest';
import { bindParams, queryParams, QueryParamError } from '../../../src/store/bind-params.ts';

describe('bindParams', () => {
  it.each([
    ['SELECT 1 WHERE ts_ms >= {since_ms:UInt64}', { since_ms: 1700000000000 }, 'SELECT 1 WHERE ts_ms >= 1700000000000'],
    ['SELECT {n:Int32}', { n: -3 }, 'SELECT (-3)'],
    ['SELECT {x:Float64}', { x: '0.5' }, 'SELECT 0.5'],
    ["SELECT {s:String}", { s: "it's" }, "SELECT 'it\\'s'"],
    ['SELECT {a:UInt32}, {a:UInt32}', { a: 7 }, 'SELECT 7, 7'],
    ['-- {since_ms} in a comment stays\nSELECT 1', {}, '-- {since_ms} in a comment stays\nSELECT 1'],
  ])('%s', (sql, params, expected) => {
    expect(bindParams(sql, params)).toBe(expected);
  });

  it.each([
    ['SELECT {since_ms:UInt64}', {}, /not set: give it as --param since_ms=VALUE/],
    ['SELECT {since_ms:UInt64}', { since_ms: -1 }, /whole number ≥ 0/],
    ['SELECT {since_ms:UInt64}', { since_ms: '1; DROP TABLE x' }, /whole number/],
    ['SELECT {x:Float64}', { x: 'nan' }, /finite number/],
    ['SELECT {d:Date}', { d: '2026-01-01' }, /not supported/],
    ['SELECT 1', { since_ms: 1 }, /has no parameter "since_ms"/],
  ])('refuses %s with %j', (sql, params, message) => {
    expect(() => bindParams(sql, params)).toThrow(QueryParamError);
    expect(() => bindParams(sql, params)).toThrow(message);
  });

  it('lists the placeholders with their types', () => {
    expect([...queryParams('SELECT {a:UInt64}, {b:String}, {a:UInt64}')]).toEqual([
      ['a', 'UInt64'],
      ['b', 'String'],
    ]);
  });
});
