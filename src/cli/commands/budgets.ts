import type { Command } from 'commander';
import type { Producer } from 'kafkajs';
import { createBudgetJob, type BudgetCheckResult, type BudgetPublisher } from '../../budgets/budget-job.ts';
import { formatUsd } from '../../budgets/budget-finding.ts';
import { createKafkaPublisher } from '../../budgets/kafka-publisher.ts';
import { createReliableProducer } from '../../kafka/client.ts';
import { migrate } from '../../store/migrate.ts';
import { connectKafka, createContext, kafkaUnavailable, loadConfiguredPolicy, openConfiguredStore, requireKeyRing, type CliContext } from '../context.ts';
import { renderTable } from '../table.ts';

interface CheckOptions {
  json?: boolean;
  dryRun?: boolean;
  policy?: string;
}

export function registerBudgets(program: Command, env: Record<string, string | undefined>): void {
  const budgets = program.command('budgets').description('monthly budgets per tenant and user, the daily product spike, unknown models (checked on a schedule by `start`)');
  budgets
    .command('check')
    .description('run the budget check once: new findings to the findings topic, throttles (signed) to the control topic, both audited; prints what it found')
    .option('--json', 'print the result as one JSON object')
    .option('--dry-run', 'evaluate and print only: nothing is signed, sent or written (needs no Kafka and no signing keys)')
    .option('--policy <file>', 'policy file (YAML or JSON); default RUNWARDEN_POLICY, else built-in defaults')
    .addHelpText(
      'after',
      `
Examples:
  npx runwarden budgets check --dry-run --policy policy.yaml    # look, send nothing
  npx runwarden budgets check --json | jq '.findings'`,
    )
    .action(async (opts: CheckOptions) => {
      const ctx = createContext(env);
      const policy = await loadConfiguredPolicy(ctx, opts.policy);
      if (!policy.budgets.enabled) {
        process.stderr.write('budgets.enabled is false in the policy: nothing to check\n');
        return;
      }
      const keyRing = opts.dryRun ? undefined : requireKeyRing(ctx);
      const store = await openConfiguredStore(ctx);
      let producer: Producer | undefined;
      try {
        await migrate(store);
        let publish: BudgetPublisher | undefined;
        if (keyRing) {
          producer = await connectProducer(ctx);
          publish = sendOrExplain(ctx, createKafkaPublisher(producer, ctx.config.topics));
        }
        const job = createBudgetJob({
          store,
          policy: policy.budgets,
          priceTable: policy.pricing,
          ...(keyRing && publish ? { output: { keyRing, publish } } : {}),
        });
        const result = await job.run();
        process.stdout.write(opts.json ? `${JSON.stringify(toJson(result))}\n` : render(result));
      } finally {
        await producer?.disconnect();
        await store.close();
      }
    });
}

async function connectProducer(ctx: CliContext): Promise<Producer> {
  const kafka = await connectKafka(ctx);
  const producer = createReliableProducer(kafka, 15_000);
  try {
    await producer.connect();
  } catch (err) {
    throw kafkaUnavailable(ctx, 'cannot connect a producer to Kafka', err);
  }
  return producer;
}

/** A Kafka failure while sending exits with EXIT.unavailable; nothing was audited, so the next check sends it again. */
function sendOrExplain(ctx: CliContext, publish: BudgetPublisher): BudgetPublisher {
  return async (findings, commands) => {
    try {
      await publish(findings, commands);
    } catch (err) {
      throw kafkaUnavailable(ctx, 'cannot send the budget findings to Kafka', err, 'Nothing was audited: start Kafka or set KAFKA_BROKERS and run the check again.');
    }
  };
}

function toJson(r: BudgetCheckResult) {
  const daily = r.daily.map((d) => ({ day: d.day, complete: d.complete, usd: d.usd, baseline_usd: d.baselineUsd, history_days: d.historyDays, verdict: d.verdict }));
  return { at: r.at, month: r.month, dry_run: r.dryRun, already_fired: r.alreadyFired, findings: r.findings, commands: r.commands, daily };
}

function render(r: BudgetCheckResult): string {
  const at = new Date(r.at).toISOString().slice(0, 16).replace('T', ' ');
  const throttles = r.commands.filter((c) => c.action === 'throttle').length;
  const lines = [
    `budget check at ${at} UTC (month ${r.month}): ${r.findings.length} new finding${r.findings.length === 1 ? '' : 's'}, ` +
      `${throttles} throttle${throttles === 1 ? '' : 's'} ${r.dryRun ? 'would be ' : ''}sent; ${r.alreadyFired} fired by earlier checks, not repeated` +
      (r.dryRun ? ' (dry run: nothing sent or written)' : ''),
  ];
  for (const f of r.findings) lines.push(`  ${f.severity.padEnd(8)} ${f.rule}  ${f.scope.kind}:${f.scope.id}  ${String(f.details?.['message'] ?? '')}`);
  if (r.daily.length > 0) {
    const rows = r.daily.map((d) => ({
      day: d.day + (d.complete ? '' : ' (so far)'),
      spend: formatUsd(d.usd),
      baseline: d.baselineUsd === null ? '–' : `${formatUsd(d.baselineUsd)}/day`,
      history_days: d.historyDays,
      verdict: d.verdict.replace(/_/g, ' '),
    }));
    lines.push('', 'product spend per day (UTC):', renderTable(rows).trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
