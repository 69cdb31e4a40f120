import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LlmUsage } from '../../../src/contracts/span.ts';
import { DEFAULT_PRICE_TABLE, lookupPrice, modelPriceSchema, priceLlmCall, type PriceTable } from '../../../src/pricing/price-table.ts';

describe('lookupPrice: exact name, else the longest table key the name extends', () => {
  it.each([
    ['gpt-4o', 'gpt-4o'],
    ['GPT-4o', 'gpt-4o'],
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini', 'gpt-4o-mini'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-4.1-nano-2025-04-14', 'gpt-4.1-nano'],
    ['gpt-5-mini-2025-08-07', 'gpt-5-mini'],
    ['o3-mini-2025-01-31', 'o3-mini'],
    ['o3-2025-04-16', 'o3'],
    ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4'],
    ['claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['claude-3-7-sonnet-latest', 'claude-3-7-sonnet'],
    ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['mistral-large:latest', 'mistral-large'],
    ['gemini-2.5-flash-preview-05-20', 'gemini-2.5-flash'],
  ])('%s prices as %s', (model, key) => {
    expect(lookupPrice(model, DEFAULT_PRICE_TABLE)).toEqual({ key, price: DEFAULT_PRICE_TABLE[key] });
  });

  it.each([
    ['a name that merely starts with a key', 'gpt-4oo'],
    ['a key followed by an unsupported separator', 'gpt-4o_2024'],
    ['a vendor prefix', 'openai/gpt-4o'],
    ['a shorter name than every key', 'gpt'],
    ['an unknown model', 'mystery-1'],
    ['an inherited object property', 'constructor'],
    ['another inherited property, with a suffix', 'tostring-1'],
    ['the empty name', ''],
  ])('%s is not found (%s)', (_name, model) => {
    expect(lookupPrice(model, DEFAULT_PRICE_TABLE)).toBeUndefined();
  });

  it('claude-sonnet-4-5-… prices as claude-sonnet-4-5 whatever the table order', () => {
    const a = { in: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } };
    const reversed: PriceTable = { 'claude-sonnet-4-5': { input_usd_per_mtok: 3, output_usd_per_mtok: 15 }, 'claude-sonnet-4': a.in };
    const forward: PriceTable = { 'claude-sonnet-4': a.in, 'claude-sonnet-4-5': { input_usd_per_mtok: 3, output_usd_per_mtok: 15 } };
    for (const table of [reversed, forward]) expect(lookupPrice('claude-sonnet-4-5-20250929', table)?.key).toBe('claude-sonnet-4-5');
  });

  it('property: a dated variant of any table key prices as that key or a longer key it extends', () => {
    const keys = Object.keys(DEFAULT_PRICE_TABLE);
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.constantFrom('-', '@', ':'), fc.stringMatching(/^[0-9]{4,8}$/), (key, sep, date) => {
        const hit = lookupPrice(`${key}${sep}${date}`, DEFAULT_PRICE_TABLE);
        expect(hit?.key).toBe(key);
      }),
    );
  });
});

describe('priceLlmCall', () => {
  const llm = (o: Partial<LlmUsage>): LlmUsage => ({ model: 'gpt-4o', input_tokens: 0, output_tokens: 0, ...o });

  it.each<[string, LlmUsage, { costUsd: number; known: boolean; source: string; matched?: string }]>([
    ['1M input tokens of gpt-4o: $2.50', llm({ input_tokens: 1_000_000 }), { costUsd: 2.5, known: true, source: 'table', matched: 'gpt-4o' }],
    ['1M output tokens of gpt-4o: $10', llm({ output_tokens: 1_000_000 }), { costUsd: 10, known: true, source: 'table', matched: 'gpt-4o' }],
    [
      'a dated Claude: 1M in + 1M out of claude-sonnet-4-5 = $18',
      llm({ model: 'claude-sonnet-4-5-20250929', input_tokens: 1_000_000, output_tokens: 1_000_000 }),
      { costUsd: 18, known: true, source: 'table', matched: 'claude-sonnet-4-5' },
    ],
    [
      'cached tokens are the part of the input served from cache, at the cached rate',
      llm({ input_tokens: 1_000_000, cached_tokens: 400_000 }),
      { costUsd: (600_000 * 2.5 + 400_000 * 1.25) / 1e6, known: true, source: 'table', matched: 'gpt-4o' },
    ],
    [
      'cached tokens above the input are clamped to the input',
      llm({ input_tokens: 1_000, cached_tokens: 5_000 }),
      { costUsd: (1_000 * 1.25) / 1e6, known: true, source: 'table', matched: 'gpt-4o' },
    ],
    [
      'a model without a cached price charges cached tokens at the input rate',
      llm({ model: 'mistral-large', input_tokens: 1_000_000, cached_tokens: 500_000 }),
      { costUsd: 2, known: true, source: 'table', matched: 'mistral-large' },
    ],
    ['an unknown model: $0 and known: false', llm({ model: 'mystery-1', input_tokens: 1_000 }), { costUsd: 0, known: false, source: 'unknown' }],
    ['the event cost wins over the table', llm({ input_tokens: 1_000_000, cost_usd: 0.42 }), { costUsd: 0.42, known: true, source: 'event' }],
    ['an event cost of 0 is a real cost, not a missing one', llm({ input_tokens: 1_000_000, cost_usd: 0 }), { costUsd: 0, known: true, source: 'event' }],
    ['the event cost prices an unknown model', llm({ model: 'mystery-1', cost_usd: 1.5 }), { costUsd: 1.5, known: true, source: 'event' }],
    ['zero tokens cost nothing (and are known)', llm({}), { costUsd: 0, known: true, source: 'table', matched: 'gpt-4o' }],
  ])('%s', (_name, usage, expected) => {
    const got = priceLlmCall(usage, DEFAULT_PRICE_TABLE);
    expect(got).toEqual({ ...expected, costUsd: expect.closeTo(expected.costUsd, 12) });
  });

  it('uses the table it is given (policy overrides)', () => {
    const table: PriceTable = { 'my-model': { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } };
    expect(priceLlmCall(llm({ model: 'My-Model-v2', input_tokens: 1_000_000, output_tokens: 1_000_000 }), table)).toEqual({
      costUsd: 3,
      known: true,
      source: 'table',
      matched: 'my-model',
    });
    expect(priceLlmCall(llm({ model: 'gpt-4o' }), table).known).toBe(false);
  });

  it('property: the table cost is non-negative, monotone in tokens, and cached tokens never cost more', () => {
    const models = Object.keys(DEFAULT_PRICE_TABLE);
    fc.assert(
      fc.property(fc.constantFrom(...models), fc.nat(2_000_000), fc.nat(2_000_000), fc.nat(2_000_000), fc.nat(1_000), (model, input, output, cached, more) => {
        const base = priceLlmCall({ model, input_tokens: input, output_tokens: output }, DEFAULT_PRICE_TABLE).costUsd;
        const withCache = priceLlmCall({ model, input_tokens: input, output_tokens: output, cached_tokens: cached }, DEFAULT_PRICE_TABLE).costUsd;
        const bigger = priceLlmCall({ model, input_tokens: input + more, output_tokens: output + more }, DEFAULT_PRICE_TABLE).costUsd;
        expect(base).toBeGreaterThanOrEqual(0);
        expect(withCache).toBeLessThanOrEqual(base + 1e-12);
        expect(withCache).toBeGreaterThanOrEqual(0);
        expect(bigger).toBeGreaterThanOrEqual(base);
      }),
    );
  });
});

describe('the built-in table', () => {
  it('every entry is a valid price, keyed in lower case', () => {
    for (const [key, price] of Object.entries(DEFAULT_PRICE_TABLE)) {
      expect(key).toBe(key.toLowerCase());
      expect(modelPriceSchema.safeParse(price).success).toBe(true);
    }
  });

  it.each([
    [{ input_usd_per_mtok: 1 }, 'output_usd_per_mtok'],
    [{ input_usd_per_mtok: -1, output_usd_per_mtok: 1 }, 'input_usd_per_mtok'],
    [{ input_usd_per_mtok: 1, output_usd_per_mtok: 1, cached_usd_per_mtok: 'cheap' }, 'cached_usd_per_mtok'],
  ])('modelPriceSchema rejects %j at %s', (value, path) => {
    const r = modelPriceSchema.safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
