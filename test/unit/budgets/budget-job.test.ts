import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createBudgetJob, type BudgetPublisher } from '../../../src/budgets/budget-job.ts';
import { evaluateBudgets } from '../../../src/budgets/evaluate.ts';
import type { ControlCommand } from '../../../src/contracts/control.ts';
import type { Finding } from '../../../src/contracts/finding.ts';
import { verifyCommand, type KeyRing } from '../../../src/control/sign.ts';
import { DEFAULT_PRICE_TABLE } from '../../../src/pricing/price-table.ts';
import type { Store } from '../../../src/store/store.ts';
import { budgetsPolicy, inputs, NOW, spend, TODAY } from './inputs.ts';

const RING: KeyRing = { activeKeyId: 'k1', keys: { k1: 'budget-job-unit-secret-0123' } };
const POLICY = budgetsPolicy({ monthly_usd: { tenants: { acme: 100 }, users: {}, user_default: 10 } });

/**
 * An in-memory store double: answers each budget query with canned rows shaped as ClickHouse
 * returns them (64-bit integers as strings), and the findings query with what was inserted.
 */
function fakeStore() {
  const inserted: Record<string, Array<Record<string, unknown>>> = { findings: [], control_commands: [] };
  const calls: string[] = [];
  const rowsFor = (sql: string): unknown[] => {
    if (sql.includes('FROM findings')) return (inserted['findings'] ?? []).map((r) => ({ finding_id: r['finding_id'] }));
    if (sql.includes('tenant_id AS id')) return [{ id: 'acme', nusd: '120000000000' }]; // $120 of $100
    if (sql.includes('user_id AS id')) return [{ id: 'u1', nusd: '6000000000' }]; // $6 of $10
    if (sql.includes('count() AS events')) {
      return [-7, -6, -5, -4, -3, -2, -1].map((d) => ({ day: String(TODAY + d), events: '3', nusd: '10000000000' })).concat([{ day: String(TODAY), events: '9', nusd: '90000000000' }]);
    }
    if (sql.includes('cost_priced = 0')) return [{ model: 'mystery-1', day: String(TODAY), calls: '4', in_tokens: '400', out_tokens: '40', agents: ['bot'] }];
    throw new Error(`unexpected query: ${sql}`);
  };
  const store: Pick<Store, 'query' | 'insert'> = {
    async query<T>(sql: string, schema: z.ZodType<T>): Promise<T[]> {
      return rowsFor(sql).map((r) => schema.parse(r));
    },
    async insert(table, rows) {
      calls.push(`insert ${table}`);
      (inserted[table] ??= []).push(...rows);
    },
  };
  return { store, inserted, calls };
}

function publisher(calls: string[], fail = false) {
  const sent: { findings: Finding[]; commands: ControlCommand[] } = { findings: [], commands: [] };
  const publish: BudgetPublisher = async (findings, commands) => {
    calls.push('publish');
    if (fail) throw new Error('broker down');
    sent.findings.push(...findings);
    sent.commands.push(...commands);
  };
  return { publish, sent };
}

describe('the budget job', () => {
  it('publishes new findings and signed commands, then audits them; a second run finds nothing new', async () => {
    const { store, inserted, calls } = fakeStore();
    const { publish, sent } = publisher(calls);
    const job = createBudgetJob({ store, policy: POLICY, priceTable: DEFAULT_PRICE_TABLE, output: { keyRing: RING, publish }, now: () => NOW });

    const first = await job.run();
    expect(first.findings.map((f) => `${f.rule} ${f.scope.kind}:${f.scope.id}`)).toEqual([
      'monthly_100 tenant:acme',
      'monthly_50 user:u1',
      'daily_product_spike global:*',
      'unknown_model cohort:model=mystery-1',
    ]);
    expect(first.commands.map((c) => `${c.action} ${c.scope.kind}:${c.scope.id}`)).toEqual(['throttle tenant:acme']);
    expect(first).toMatchObject({ at: NOW, month: '2026-11', dryRun: false, alreadyFired: 0 });
    // Sent before audited: a crash in between re-sends the same ids rather than losing them.
    expect(calls).toEqual(['publish', 'insert findings', 'insert control_commands']);
    expect(sent.findings).toEqual(first.findings);
    expect(verifyCommand(JSON.parse(JSON.stringify(sent.commands[0])), RING, NOW)).toMatchObject({ ok: true });
    expect(inserted['findings']?.map((r) => r['finding_id'])).toEqual(first.findings.map((f) => f.finding_id));
    expect(inserted['control_commands']).toMatchObject([{ action: 'throttle', scope_id: 'acme', reason_detector: 'budget', source: 'scheduler' }]);

    const again = await job.run();
    expect(again.findings).toEqual([]);
    expect(again.commands).toEqual([]);
    expect(again.alreadyFired).toBe(4);
    expect(calls).toEqual(['publish', 'insert findings', 'insert control_commands']);
  });

  it('a dry run evaluates and returns, but signs, sends and writes nothing', async () => {
    const { store, inserted, calls } = fakeStore();
    const job = createBudgetJob({ store, policy: POLICY, priceTable: DEFAULT_PRICE_TABLE, now: () => NOW });
    const result = await job.run();
    expect(result.dryRun).toBe(true);
    expect(result.findings).toHaveLength(4);
    expect(result.commands[0]).not.toHaveProperty('signature');
    expect(calls).toEqual([]);
    expect(inserted['findings']).toEqual([]);
  });

  it('when publishing fails nothing is audited, so the next run fires the same findings again', async () => {
    const { store, inserted, calls } = fakeStore();
    const broken = createBudgetJob({ store, policy: POLICY, priceTable: DEFAULT_PRICE_TABLE, output: { keyRing: RING, publish: publisher(calls, true).publish }, now: () => NOW });
    await expect(broken.run()).rejects.toThrow('broker down');
    expect(inserted['findings']).toEqual([]);
    const { publish, sent } = publisher(calls);
    const fixed = createBudgetJob({ store, policy: POLICY, priceTable: DEFAULT_PRICE_TABLE, output: { keyRing: RING, publish }, now: () => NOW + 60_000 });
    const result = await fixed.run();
    expect(result.findings).toHaveLength(4);
    expect(sent.findings).toHaveLength(4);
  });
});

describe('evaluateBudgets', () => {
  it('leaves out the daily and unknown-model checks when the policy turns them off', () => {
    const base = inputs({
      monthly: spend({ acme: 100 }),
      days: new Map([...Array(8).keys()].map((i) => [TODAY - 7 + i, { events: 1, usd: i === 7 ? 100 : 1 }])),
      unpriced: [{ model: 'mystery', day: TODAY, calls: 1, inputTokens: 1, outputTokens: 1, agents: ['a'] }],
    });
    const on = evaluateBudgets(base, POLICY, DEFAULT_PRICE_TABLE);
    expect(on.emissions.map((e) => e.finding.rule)).toEqual(['monthly_100', 'daily_product_spike', 'unknown_model']);
    const off = evaluateBudgets(
      base,
      { ...POLICY, daily_product: { ...POLICY.daily_product, enabled: false }, unknown_models: { enabled: false } },
      DEFAULT_PRICE_TABLE,
    );
    expect(off.emissions.map((e) => e.finding.rule)).toEqual(['monthly_100']);
    expect(off.daily).toEqual([]);
  });
});
