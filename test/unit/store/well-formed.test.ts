import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wellFormed, wellFormedRows } from '../../../src/store/well-formed.ts';

describe('wellFormed', () => {
  it.each([
    ['plain text is unchanged', 'abc', 'abc'],
    ['a surrogate pair is unchanged', 'a😀b', 'a😀b'],
    ['a lone high surrogate', 'a\uD83Db', 'a\uFFFDb'],
    ['a lone low surrogate', 'a\uDE00b', 'a\uFFFDb'],
    ['a high surrogate at the end', 'abc\uD83D', 'abc\uFFFD'],
    ['a reversed pair is two lone ones', '\uDE00\uD83D', '\uFFFD\uFFFD'],
    ['a pair next to a lone one', '😀\uD83D', '😀\uFFFD'],
    ['empty', '', ''],
  ])('%s', (_name, input, output) => {
    expect(wellFormed(input)).toBe(output);
  });

  it('property: the same as String#toWellFormed (ES2024), and UTF-8 round-trips afterwards', () => {
    const withLone = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))), {
      maxLength: 12,
    });
    fc.assert(
      fc.property(withLone, (parts) => {
        const s = parts.join('');
        const fixed = wellFormed(s);
        const native = (s as unknown as { toWellFormed(): string }).toWellFormed();
        return fixed === native && Buffer.from(fixed, 'utf8').toString('utf8') === fixed;
      }),
    );
  });
});

describe('wellFormedRows', () => {
  it('returns rows without lone surrogates as they are, uncopied', () => {
    const row = { a: 'x', b: 1, c: ['y', 'z'], d: null };
    const [out] = wellFormedRows([row]);
    expect(out).toBe(row);
  });

  it('replaces lone surrogates in strings and arrays of strings, leaving the input untouched', () => {
    const row = { event_id: 'e\uD800', attr_keys: ['k', 'v\uDC00'], n: 2, judge_score: null };
    const [out] = wellFormedRows([row]);
    expect(out).toEqual({ event_id: 'e\uFFFD', attr_keys: ['k', 'v\uFFFD'], n: 2, judge_score: null });
    expect(row.event_id).toBe('e\uD800');
    expect(row.attr_keys[1]).toBe('v\uDC00');
  });
});
