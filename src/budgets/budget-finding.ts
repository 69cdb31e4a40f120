import type { Scope } from '../contracts/common.ts';
import type { Throttle, UnsignedControlCommand } from '../contracts/control.ts';
import { FINDING_SCHEMA_VERSION, type Finding, type Severity } from '../contracts/finding.ts';
import { stableId } from '../util/stable-id.ts';

export interface BudgetFindingInput {
  rule: string;
  severity: Severity;
  /** When the check ran (epoch ms). */
  ts: number;
  scope: Scope;
  cohort?: Record<string, string>;
  /**
   * The period the finding is about and anything else that makes it a distinct crossing
   * (`2025-11` and the limit; a day `2025-11-22`). Part of `finding_id`, with the rule and scope.
   */
  period: readonly (string | number)[];
  observed: number;
  threshold: number;
  baseline?: number;
  /** Shown as is; `message` says in one sentence what happened and what to do. */
  details: Record<string, unknown> & { message: string };
  /** Set when the finding calls for a throttle: becomes `details.action` + `details.throttle` (src/control/commands.ts). */
  throttle?: Throttle;
}

/**
 * A `budget` finding. `finding_id` = hash(budget, rule, scope, period): a check that runs again
 * for the same crossing derives the same id, which is how it knows the crossing already fired.
 */
export function budgetFinding(input: BudgetFindingInput): Finding {
  const details: Record<string, unknown> = { ...input.details };
  if (input.throttle) {
    details['action'] = 'throttle';
    details['throttle'] = input.throttle;
  }
  const finding: Finding = {
    schema: FINDING_SCHEMA_VERSION,
    finding_id: budgetFindingId(input.rule, input.scope, input.period),
    ts: input.ts,
    detector: 'budget',
    rule: input.rule,
    severity: input.severity,
    scope: input.scope,
    observed: input.observed,
    threshold: input.threshold,
    details,
  };
  if (input.cohort) finding.cohort = input.cohort;
  if (input.baseline !== undefined) finding.baseline = input.baseline;
  return finding;
}

/** The id a budget finding for (rule, scope, period) has, fired or not. */
export function budgetFindingId(rule: string, scope: Scope, period: readonly (string | number)[]): string {
  return stableId('budget', rule, scope.kind, scope.id, ...period);
}

/** `$1,234.56`; amounts under a dollar keep four decimals so cents of spend stay visible. */
export function formatUsd(usd: number): string {
  const digits = Math.abs(usd) < 1 && usd !== 0 ? 4 : 2;
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: digits })}`;
}

/** usd summed from integer nano-dollars, rounded to the nano-dollar so float noise never shows. */
export const roundUsd = (usd: number): number => Math.round(usd * 1e9) / 1e9;

/** A finding and the unsigned command it calls for, if any (the job signs it). */
export interface BudgetEmission {
  finding: Finding;
  command?: UnsignedControlCommand;
}
