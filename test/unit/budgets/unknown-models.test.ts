import { describe, expect, it } from 'vitest';
import { budgetPeriods } from '../../../src/budgets/periods.ts';
import { unknownModelFindings, type UnpricedCalls } from '../../../src/budgets/unknown-models.ts';
import { DEFAULT_PRICE_TABLE } from '../../../src/pricing/price-table.ts';
import { NOW, TODAY } from './inputs.ts';

const PERIODS = budgetPeriods(NOW, 7);

const row = (o: Partial<UnpricedCalls> = {}): UnpricedCalls => ({
  model: 'my-llm',
  day: TODAY,
  calls: 12,
  inputTokens: 12_000,
  outputTokens: 3_000,
  agents: ['support-bot', 'research-bot'],
  ...o,
});

describe('LLM calls of models the price table does not know', () => {
  it('are one finding per model and day, with the number of calls and who made them', () => {
    const [e, ...rest] = unknownModelFindings([row()], DEFAULT_PRICE_TABLE, PERIODS, new Set());
    expect(rest).toEqual([]);
    expect(e?.finding).toMatchObject({
      detector: 'budget',
      rule: 'unknown_model',
      severity: 'warning',
      scope: { kind: 'cohort', id: 'model=my-llm' },
      cohort: { model: 'my-llm' },
      observed: 12,
      threshold: 0,
      details: { model: 'my-llm', day: '2026-11-23', input_tokens: 12_000, output_tokens: 3_000, agents: ['research-bot', 'support-bot'] },
    });
    expect(e?.finding.details?.['message']).toBe(
      '12 LLM calls to model "my-llm" on 2026-11-23 (agents: research-bot, support-bot) were stored at $0: the events carry no cost_usd ' +
        'and the price table does not know the model, so budgets do not see their spend. Add it under pricing.models in the policy file.',
    );
    expect(e?.command).toBeUndefined();
  });

  it('a model the table knows (also under a dated name) is not unknown: it reported cost_usd 0 itself', () => {
    const rows = [row({ model: 'gpt-4o' }), row({ model: 'GPT-4o-2024-08-06' }), row({ model: 'claude-sonnet-4-5-20250929' })];
    expect(unknownModelFindings(rows, DEFAULT_PRICE_TABLE, PERIODS, new Set())).toEqual([]);
    expect(unknownModelFindings([row()], { ...DEFAULT_PRICE_TABLE, 'my-llm': { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } }, PERIODS, new Set())).toEqual([]);
  });

  it('fires once per (model, day): yesterday and today are two findings, a repeat of either none', () => {
    const rows = [row({ day: TODAY - 1 }), row({ day: TODAY }), row({ model: 'other-llm' }), row({ day: TODAY - 2 })];
    const first = unknownModelFindings(rows, DEFAULT_PRICE_TABLE, PERIODS, new Set());
    expect(first.map((e) => `${e.finding.details?.['model']} ${e.finding.details?.['day']}`)).toEqual([
      'my-llm 2026-11-22',
      'my-llm 2026-11-23',
      'other-llm 2026-11-23',
    ]);
    expect(new Set(first.map((e) => e.finding.finding_id)).size).toBe(3);
    const fired = new Set(first.map((e) => e.finding.finding_id));
    expect(unknownModelFindings(rows.map((r) => ({ ...r, calls: r.calls + 100 })), DEFAULT_PRICE_TABLE, PERIODS, fired)).toEqual([]);
  });
});
