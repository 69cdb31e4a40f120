import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.ts';
import type { BudgetJob } from './budget-job.ts';

export interface BudgetSchedulerOptions {
  job: BudgetJob;
  /** Cron expression, evaluated in UTC (the policy's `budgets.schedule`). */
  schedule: string;
  logger: Logger;
}

export interface BudgetScheduler {
  /** Runs a check now (a restarted warden catches up at once), then on every tick of the schedule. */
  start(): Promise<void>;
  /** Stops the schedule and waits for a check in progress to finish. */
  stop(): Promise<void>;
  /** Checks completed and failed so far. */
  stats(): { runs: number; failures: number; skipped: number };
}

/**
 * Runs the budget job on a node-cron schedule. A check still running when the next tick comes
 * makes that tick skip (counted), never overlap. A failed check (ClickHouse or Kafka down) is
 * logged and counted; the next tick tries again, and since nothing was marked as fired, it fires
 * whatever the failed one could not.
 */
export function createBudgetScheduler(options: BudgetSchedulerOptions): BudgetScheduler {
  const { job, schedule } = options;
  const log = options.logger.child({ component: 'budgets' });
  const stats = { runs: 0, failures: 0, skipped: 0 };
  let inFlight: Promise<void> | undefined;
  let task: ScheduledTask | undefined;

  function tick(): Promise<void> {
    if (inFlight) {
      stats.skipped++;
      log.warn('budget check still running at the next tick; skipping this one');
      return inFlight;
    }
    const started = Date.now();
    inFlight = job
      .run()
      .then(
        (r) => {
          stats.runs++;
          log.info({ findings: r.findings.length, commands: r.commands.length, alreadyFired: r.alreadyFired, ms: Date.now() - started }, 'budget check done');
        },
        (err: unknown) => {
          stats.failures++;
          log.error({ err }, 'budget check failed; the next tick tries again');
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  return {
    async start() {
      task = cron.createTask(schedule, tick, { name: 'runwarden-budgets', timezone: 'UTC' });
      await task.start();
      log.info({ schedule, next: task.getNextRun()?.toISOString() }, 'budget checks scheduled (UTC)');
      void tick();
    },
    async stop() {
      if (task) {
        await task.stop();
        await task.destroy();
        task = undefined;
      }
      await inFlight;
    },
    stats: () => ({ ...stats }),
  };
}
