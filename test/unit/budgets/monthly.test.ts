import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BudgetEmission } from '../../../src/budgets/budget-finding.ts';
import { monthlyBudgetFindings, monthlyLimit, monthlyRule, type MonthlySpend } from '../../../src/budgets/monthly.ts';
import { budgetPeriods } from '../../../src/budgets/periods.ts';
import { controlCommandSchema, unsignedControlCommandSchema } from '../../../src/contracts/control.ts';
import { findingSchema } from '../../../src/contracts/finding.ts';
import { commandId } from '../../../src/control/command-id.ts';
import { signCommand, verifyCommand, type KeyRing } from '../../../src/control/sign.ts';
import { budgetsPolicy, NOW, spend } from './inputs.ts';

const DEC_1 = Date.UTC(2026, 11, 1);
const JAN_1 = Date.UTC(2027, 0, 1);
const ACME_1000 = budgetsPolicy({ monthly_usd: { tenants: { acme: 1000 }, users: {} } });

/** Runs successive checks the way the scheduler does: what fired is fed back as `fired`. */
function checks(policy = ACME_1000, steps: Array<{ at?: number; spend: MonthlySpend }>): BudgetEmission[][] {
  const fired = new Set<string>();
  return steps.map(({ at, spend: s }) => {
    const out = monthlyBudgetFindings(s, policy, budgetPeriods(at ?? NOW, 7), fired);
    for (const e of out) fired.add(e.finding.finding_id);
    return out;
  });
}

const rules = (out: BudgetEmission[]) => out.map((e) => `${e.finding.scope.kind}:${e.finding.scope.id} ${e.finding.rule}${e.command ? ` +${e.command.action}` : ''}`);

describe('monthly budgets', () => {
  it('fires 50, 75 and 100 % once each as spend grows, with a throttle at 100 %', () => {
    const out = checks(ACME_1000, [400, 500, 600, 749.99, 750, 800, 999, 1000, 1300, 1300].map((usd) => ({ spend: spend({ acme: usd }) })));
    expect(out.map(rules)).toEqual([
      [],
      ['tenant:acme monthly_50'],
      [],
      [],
      ['tenant:acme monthly_75'],
      [],
      [],
      ['tenant:acme monthly_100 +throttle'],
      [],
      [],
    ]);
  });

  it('fires only the highest threshold when spend jumps past several between two checks', () => {
    expect(checks(ACME_1000, [{ spend: spend({ acme: 100 }) }, { spend: spend({ acme: 1200 }) }, { spend: spend({ acme: 1300 }) }]).map(rules)).toEqual([
      [],
      ['tenant:acme monthly_100 +throttle'],
      [],
    ]);
  });

  it('says what happened in the finding and the command: spend, limit, threshold, until when', () => {
    const [[e]] = checks(ACME_1000, [{ spend: spend({ acme: 1234.5 }) }]) as [[BudgetEmission]];
    expect(findingSchema.parse(e.finding)).toEqual(e.finding);
    expect(e.finding).toMatchObject({
      detector: 'budget',
      rule: 'monthly_100',
      severity: 'critical',
      ts: NOW,
      scope: { kind: 'tenant', id: 'acme' },
      observed: 1234.5,
      threshold: 1000,
      details: { month: '2026-11', limit_usd: 1000, limit_from: 'budgets.monthly_usd.tenants.acme', spent_ratio: 1.2345, action: 'throttle', throttle: { max_llm_calls_per_minute: 10 } },
    });
    expect(e.finding.details?.['message']).toBe(
      'tenant "acme" has spent $1,234.50 of its $1,000.00 budget for 2026-11 (123.5 %), past the 100 % threshold. ' +
        'Throttled (at most 10 LLM calls per minute) until 2026-12-01 00:00 UTC; `runwarden resume --tenant acme` lifts it.',
    );
    expect(unsignedControlCommandSchema.parse(e.command)).toEqual(e.command);
    expect(e.command).toEqual({
      schema: 'runwarden.control/v1',
      command_id: commandId(e.finding.finding_id, 'throttle'),
      issued_at: NOW,
      action: 'throttle',
      scope: { kind: 'tenant', id: 'acme' },
      reason: { detector: 'budget', rule: 'monthly_100', observed: 1234.5, threshold: 1000, finding_id: e.finding.finding_id },
      // The budget resets at the start of the next month (UTC): so does the throttle.
      expires_at: DEC_1,
      throttle: { max_llm_calls_per_minute: 10 },
    });
    const ring: KeyRing = { activeKeyId: 'k1', keys: { k1: 'budget-unit-test-secret-0123' } };
    const signed = controlCommandSchema.parse(signCommand(e.command!, ring));
    expect(verifyCommand(JSON.parse(JSON.stringify(signed)), ring, NOW).ok).toBe(true);
  });

  it('severity rises with the threshold: info at 50 %, warning at 75 %, critical at 100 %', () => {
    const out = checks(ACME_1000, [500, 750, 1000].map((usd) => ({ spend: spend({ acme: usd }) }))).flat();
    expect(out.map((e) => [e.finding.rule, e.finding.severity])).toEqual([
      ['monthly_50', 'info'],
      ['monthly_75', 'warning'],
      ['monthly_100', 'critical'],
    ]);
  });

  it('starts afresh each month: the same crossing in December is a new finding with a new id', () => {
    const [nov, dec] = checks(ACME_1000, [
      { at: NOW, spend: spend({ acme: 1100 }) },
      { at: DEC_1 + 3_600_000, spend: spend({ acme: 1100 }) },
    ]) as [BudgetEmission[], BudgetEmission[]];
    expect(rules(nov)).toEqual(['tenant:acme monthly_100 +throttle']);
    expect(rules(dec)).toEqual(['tenant:acme monthly_100 +throttle']);
    expect(dec[0]?.finding.finding_id).not.toBe(nov[0]?.finding.finding_id);
    expect(dec[0]?.finding.details?.['month']).toBe('2026-12');
    // December has 31 days: the throttle runs to the first of January.
    expect(dec[0]?.command?.expires_at).toBe(JAN_1);
  });

  it('derives the id from scope, month, rule and limit only: a later check of the same crossing has the same id', () => {
    const once = monthlyBudgetFindings(spend({ acme: 600 }), ACME_1000, budgetPeriods(NOW, 7), new Set());
    const later = monthlyBudgetFindings(spend({ acme: 700 }), ACME_1000, budgetPeriods(NOW + 86_400_000, 7), new Set());
    expect(later[0]?.finding.finding_id).toBe(once[0]?.finding.finding_id);
    expect(later[0]?.finding.observed).toBe(700);
  });

  it('a raised limit is a new budget: its own crossings fire', () => {
    const fired = new Set(checks(ACME_1000, [{ spend: spend({ acme: 1100 }) }]).flat().map((e) => e.finding.finding_id));
    const raised = budgetsPolicy({ monthly_usd: { tenants: { acme: 2000 }, users: {} } });
    expect(rules(monthlyBudgetFindings(spend({ acme: 1100 }), raised, budgetPeriods(NOW, 7), fired))).toEqual(['tenant:acme monthly_50']);
    expect(rules(monthlyBudgetFindings(spend({ acme: 2100 }), raised, budgetPeriods(NOW, 7), fired))).toEqual(['tenant:acme monthly_100 +throttle']);
  });

  it('tenants and users each have their own limit: listed, else the default, else none', () => {
    const policy = budgetsPolicy({ monthly_usd: { tenant_default: 1000, user_default: 50, tenants: { acme: 5000 }, users: { vip: 200 } } });
    const out = monthlyBudgetFindings(
      spend({ acme: 2600, globex: 1000, initech: 10 }, { vip: 100, u2: 50, u3: 20 }),
      policy,
      budgetPeriods(NOW, 7),
      new Set(),
    );
    expect(rules(out)).toEqual(['tenant:acme monthly_50', 'tenant:globex monthly_100 +throttle', 'user:u2 monthly_100 +throttle', 'user:vip monthly_50']);
    expect(out.map((e) => e.finding.details?.['limit_from'])).toEqual([
      'budgets.monthly_usd.tenants.acme',
      'budgets.monthly_usd.tenant_default',
      'budgets.monthly_usd.user_default',
      'budgets.monthly_usd.users.vip',
    ]);
    // The same id as a tenant and as a user are two scopes, two budgets.
    const both = budgetsPolicy({ monthly_usd: { tenants: { x: 10 }, users: { x: 10 } } });
    const twice = monthlyBudgetFindings(spend({ x: 10 }, { x: 10 }), both, budgetPeriods(NOW, 7), new Set());
    expect(rules(twice)).toEqual(['tenant:x monthly_100 +throttle', 'user:x monthly_100 +throttle']);
    expect(twice[0]?.finding.finding_id).not.toBe(twice[1]?.finding.finding_id);
  });

  it('without any limit, nothing is checked', () => {
    expect(monthlyBudgetFindings(spend({ acme: 1e6 }, { u: 1e6 }), budgetsPolicy(), budgetPeriods(NOW, 7), new Set())).toEqual([]);
    expect(monthlyLimit('tenant', '__proto__', budgetsPolicy().monthly_usd)).toBeUndefined();
  });

  it.each([
    ['until the month ends by default', {}, DEC_1],
    ['for the policy ttl when shorter', { ttl: 3_600_000 }, NOW + 3_600_000],
    ['never past the month end', { ttl: 30 * 86_400_000 }, DEC_1],
  ])('the throttle holds %s', (_name, throttle, expiresAt) => {
    const policy = { ...ACME_1000, throttle: { ...ACME_1000.throttle, ...throttle } };
    const [e] = monthlyBudgetFindings(spend({ acme: 1000 }), policy, budgetPeriods(NOW, 7), new Set());
    expect(e?.command?.expires_at).toBe(expiresAt);
  });

  it('with the throttle disabled, 100 % is a finding only', () => {
    const policy = { ...ACME_1000, throttle: { enabled: false } };
    const [e] = monthlyBudgetFindings(spend({ acme: 1000 }), policy, budgetPeriods(NOW, 7), new Set());
    expect(e?.finding.rule).toBe('monthly_100');
    expect(e?.command).toBeUndefined();
    expect(e?.finding.details?.['action']).toBeUndefined();
  });

  it('thresholds above 100 % fire as well, without a second throttle', () => {
    const policy = { ...ACME_1000, thresholds: [0.5, 1, 1.5] };
    expect(checks(policy, [1000, 1600].map((usd) => ({ spend: spend({ acme: usd }) }))).map(rules)).toEqual([
      ['tenant:acme monthly_100 +throttle'],
      ['tenant:acme monthly_150'],
    ]);
    expect(monthlyRule(1.5)).toBe('monthly_150');
  });

  it('property: over any month of growing spend, each threshold fires at most once, in order, with one throttle; the last fired is the highest crossed', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 400, noNaN: true }), { minLength: 1, maxLength: 30 }), (increments) => {
        let total = 0;
        const steps = increments.map((d) => ({ spend: spend({ acme: (total += d) }) }));
        const fired = checks(ACME_1000, steps).flat();
        const thresholds = fired.map((e) => e.finding.threshold);
        expect([...thresholds].sort((a, b) => a - b)).toEqual(thresholds);
        expect(new Set(thresholds).size).toBe(thresholds.length);
        expect(fired.filter((e) => e.command).length).toBe(total >= 1000 ? 1 : 0);
        const crossed = [500, 750, 1000].filter((t) => total >= t).at(-1);
        expect(thresholds.at(-1)).toBe(crossed);
      }),
    );
  });
});
