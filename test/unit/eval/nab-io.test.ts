import { describe, expect, it } from 'vitest';
import { readCsvColumns, toNumbers } from '../../../src/eval/nab/csv.ts';
import { parseNabTimestamp } from '../../../src/eval/nab/timestamps.ts';

describe('parseNabTimestamp', () => {
  it('reads data-file and label-file spellings to the same epoch ms (UTC)', () => {
    expect(parseNabTimestamp('2014-04-10 07:15:00')).toBe(Date.UTC(2014, 3, 10, 7, 15, 0));
    expect(parseNabTimestamp('2014-04-10 07:15:00.000000')).toBe(parseNabTimestamp('2014-04-10 07:15:00'));
    expect(parseNabTimestamp('2014-04-10 07:15:00.250000')).toBe(Date.UTC(2014, 3, 10, 7, 15, 0, 250));
  });

  it.each(['', '2014-04-10', '10/04/2014 07:15', '2014-04-10 07:15'])('rejects "%s"', (text) => {
    expect(() => parseNabTimestamp(text)).toThrow(/not a NAB timestamp/);
  });
});

describe('readCsvColumns', () => {
  const text = 'timestamp,value,anomaly_score\n2014-01-01 00:00:00,3,0.5\r\n2014-01-01 00:05:00,4,1.0\n';

  it('returns the named columns in row order', () => {
    expect(readCsvColumns('x.csv', text, ['anomaly_score', 'timestamp'])).toEqual({
      anomaly_score: ['0.5', '1.0'],
      timestamp: ['2014-01-01 00:00:00', '2014-01-01 00:05:00'],
    });
  });

  it('names the file and the column that is missing', () => {
    expect(() => readCsvColumns('x.csv', text, ['label'])).toThrow(/x\.csv: no column "label"/);
  });

  it('names the row of a bad number', () => {
    expect(toNumbers('x.csv', ['1', '2.5'])).toEqual([1, 2.5]);
    expect(() => toNumbers('x.csv', ['1', 'NaN'])).toThrow(/x\.csv: row 3/);
    expect(() => toNumbers('x.csv', [''])).toThrow(/row 2/);
  });
});
