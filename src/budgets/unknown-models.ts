import { cohortId } from '../contracts/cohort-id.ts';
import { lookupPrice, type PriceTable } from '../pricing/price-table.ts';
import { budgetFinding, budgetFindingId, type BudgetEmission } from './budget-finding.ts';
import { dayLabel, type BudgetPeriods } from './periods.ts';

/** LLM calls of one model on one UTC day stored at $0 with no price (`cost_priced = 0`, no `cost_usd`). */
export interface UnpricedCalls {
  model: string;
  /** UTC day number (epoch ms / 86,400,000). */
  day: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Some of the agents that made them (for finding the culprit). */
  agents: readonly string[];
}

export const UNKNOWN_MODEL_RULE = 'unknown_model';

/**
 * One finding per (model, day) for LLM calls the ingest stored at $0 because the event had no
 * `cost_usd` and the price table did not know the model (issue 4: never silently $0). Only
 * models the current price table still does not know fire: once a model is added, the calls
 * already stored stay at $0 but stop firing. `observed` is the number of such calls that day
 * when the finding fired; yesterday and today are checked.
 */
export function unknownModelFindings(
  rows: readonly UnpricedCalls[],
  priceTable: PriceTable,
  periods: BudgetPeriods,
  fired: ReadonlySet<string>,
): BudgetEmission[] {
  const out: BudgetEmission[] = [];
  for (const row of rows) {
    if (!periods.checkDays.includes(row.day) || lookupPrice(row.model, priceTable) !== undefined) continue;
    const cohort = { model: row.model };
    const scope = { kind: 'cohort' as const, id: cohortId(cohort) };
    const label = dayLabel(row.day);
    if (fired.has(budgetFindingId(UNKNOWN_MODEL_RULE, scope, [label]))) continue;
    const agents = [...row.agents].sort();
    const finding = budgetFinding({
      rule: UNKNOWN_MODEL_RULE,
      severity: 'warning',
      ts: periods.nowMs,
      scope,
      cohort,
      period: [label],
      observed: row.calls,
      threshold: 0,
      details: {
        model: row.model,
        day: label,
        input_tokens: row.inputTokens,
        output_tokens: row.outputTokens,
        agents,
        message:
          `${row.calls} LLM call${row.calls === 1 ? '' : 's'} to model ${JSON.stringify(row.model)} on ${label} (agents: ${agents.join(', ')}) ${row.calls === 1 ? 'was' : 'were'} stored at $0: ` +
          'the events carry no cost_usd and the price table does not know the model, so budgets do not see their spend. ' +
          'Add it under pricing.models in the policy file.',
      },
    });
    out.push({ finding });
  }
  return out;
}
