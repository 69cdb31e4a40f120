import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chunkByBytes } from '../../../src/kafka/chunk-by-bytes.ts';

const size = (m: { key: string; value: string }) => Buffer.byteLength(m.key) + Buffer.byteLength(m.value);

describe('chunkByBytes (partials per produce request in a commit transaction)', () => {
  it('keeps every message once, in order, each chunk within the budget unless one message alone is larger', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: fc.string({ maxLength: 300 }) }), { maxLength: 60 }), fc.integer({ min: 1, max: 900 }), (messages, budget) => {
        const chunks = chunkByBytes(messages, budget);
        expect(chunks.flat()).toEqual(messages);
        for (const c of chunks) {
          expect(c.length).toBeGreaterThan(0);
          const total = c.reduce((a, m) => a + size(m), 0);
          if (c.length > 1) expect(total).toBeLessThanOrEqual(budget);
        }
      }),
    );
  });

  it('splits a backlog of partials that would pass 1 MiB into requests of at most 256 KiB', () => {
    const messages = Array.from({ length: 5_000 }, (_, i) => ({ key: `spend|tenant_id=t${i}`, value: 'x'.repeat(400) }));
    const chunks = chunkByBytes(messages, 256 * 1024);
    expect(chunks.length).toBeGreaterThanOrEqual(8);
    for (const c of chunks) expect(c.reduce((a, m) => a + size(m), 0)).toBeLessThanOrEqual(256 * 1024);
  });
});
