import type { ControlCommand, UnsignedControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';
import { signCommand, type KeyRing } from '../control/sign.ts';
import type { Logger } from '../log.ts';
import type { PriceTable } from '../pricing/price-table.ts';
import { commandToRow, findingToRow } from '../store/rows.ts';
import type { Store } from '../store/store.ts';
import type { BudgetsPolicy } from './budgets-policy.ts';
import type { DailyCheck } from './daily-product.ts';
import { evaluateBudgets } from './evaluate.ts';
import { budgetPeriods } from './periods.ts';
import { readBudgetInputs } from './queries.ts';

/** Sends findings (runwarden.findings) and signed commands (agent.control); resolves once acknowledged. */
export type BudgetPublisher = (findings: readonly Finding[], commands: readonly ControlCommand[]) => Promise<void>;

export interface BudgetJobOptions {
  /** Reads spans and findings; the audit rows (findings, control_commands) are written here too. */
  store: Pick<Store, 'query' | 'insert'>;
  policy: BudgetsPolicy;
  /** The policy's price table: which models count as unknown. */
  priceTable: PriceTable;
  /**
   * Where new findings and commands go. Absent: a dry run — everything is evaluated and
   * returned, nothing is signed, sent or written (so the next check fires the same findings).
   */
  output?: { keyRing: KeyRing; publish: BudgetPublisher };
  /** Wall clock (epoch ms): which month and days are checked, and the findings' `ts`. */
  now?: () => number;
  logger?: Logger;
}

export interface BudgetCheckResult {
  /** When the check ran (epoch ms), also the `ts` of its findings and `issued_at` of its commands. */
  at: number;
  month: string;
  /** Findings new in this check (none repeats an earlier check's). */
  findings: Finding[];
  /** Signed (unsigned in a dry run). */
  commands: Array<ControlCommand | UnsignedControlCommand>;
  daily: DailyCheck[];
  /** Budget findings of the checked periods already fired by earlier checks (not repeated). */
  alreadyFired: number;
  dryRun: boolean;
}

export interface BudgetJob {
  /** One check: read the rollups, evaluate, then publish and audit what is new. */
  run(): Promise<BudgetCheckResult>;
}

/**
 * The budget check as a job (SPEC §3 item 5). What already fired is read back from the
 * `findings` table, so a restarted scheduler, a second run or `runwarden budgets check` never
 * fires a crossing twice. Findings and commands are published before they are audited: a crash in
 * between re-sends the same ids at the next check (the guards and the ReplacingMergeTree tables
 * drop the repeat), where the other order could lose a throttle.
 */
export function createBudgetJob(options: BudgetJobOptions): BudgetJob {
  const { store, policy, priceTable, output } = options;
  const now = options.now ?? Date.now;
  const log = options.logger?.child({ component: 'budgets' });
  return {
    async run() {
      const periods = budgetPeriods(now(), policy.daily_product.baseline_days);
      const inputs = await readBudgetInputs(store, policy, periods);
      const { emissions, daily } = evaluateBudgets(inputs, policy, priceTable);
      const findings = emissions.map((e) => e.finding);
      const unsigned = emissions.flatMap((e) => (e.command ? [e.command] : []));
      const result = { at: periods.nowMs, month: periods.month, findings, daily, alreadyFired: inputs.fired.size };
      if (!output) return { ...result, commands: unsigned, dryRun: true };

      const commands = unsigned.map((c) => signCommand(c, output.keyRing));
      if (findings.length > 0) {
        await output.publish(findings, commands);
        await store.insert('findings', findings.map(findingToRow));
        if (commands.length > 0) await store.insert('control_commands', commands.map((c) => commandToRow(c, { source: 'scheduler' })));
      }
      for (const f of findings) log?.info({ rule: f.rule, scope: f.scope, finding_id: f.finding_id }, String(f.details?.['message'] ?? f.rule));
      return { ...result, commands, dryRun: false };
    },
  };
}
