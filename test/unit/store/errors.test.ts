import { describe, expect, it } from 'vitest';
import {
  RETRIABLE_CLICKHOUSE_CODES,
  StoreClosedError,
  StoreConnectionError,
  StoreError,
  StoreQueryError,
  StoreRowError,
  StoreTimeoutError,
} from '../../../src/store/errors.ts';

describe('store errors carry the retry decision', () => {
  const cause = new Error('socket hang up');

  it.each<[string, StoreError, boolean, string]>([
    ['connection', new StoreConnectionError('cannot reach', cause), true, 'StoreConnectionError'],
    ['timeout', new StoreTimeoutError('no answer within 100 ms', cause), true, 'StoreTimeoutError'],
    ['syntax error (62)', new StoreQueryError('bad', 62), false, 'StoreQueryError'],
    ['unknown table (60)', new StoreQueryError('bad', 60), false, 'StoreQueryError'],
    ['too many parts (252)', new StoreQueryError('later', 252), true, 'StoreQueryError'],
    ['memory limit (241)', new StoreQueryError('later', 241), true, 'StoreQueryError'],
    ['query error without a code', new StoreQueryError('odd', undefined), false, 'StoreQueryError'],
    ['bad row', new StoreRowError(3, { a: 1 }, 'a: expected string'), false, 'StoreRowError'],
    ['closed', new StoreClosedError(), false, 'StoreClosedError'],
  ])('%s', (_name, err, retriable, name) => {
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toBeInstanceOf(Error);
    expect(err.retriable).toBe(retriable);
    expect(err.name).toBe(name);
  });

  it('keeps the ClickHouse code and the cause', () => {
    const err = new StoreQueryError('Code: 252. Too many parts', 252, cause);
    expect(err.clickhouseCode).toBe(252);
    expect(err.cause).toBe(cause);
    expect(new StoreQueryError('x', undefined).clickhouseCode).toBeUndefined();
    expect(new StoreConnectionError('x').clickhouseCode).toBeUndefined();
  });

  it('every retriable code, and only those, makes a retriable query error', () => {
    for (const code of RETRIABLE_CLICKHOUSE_CODES) expect(new StoreQueryError('x', code).retriable).toBe(true);
    for (const code of [1, 47, 60, 62, 81, 117, 184, 1000]) expect(new StoreQueryError('x', code).retriable).toBe(false);
  });
});
