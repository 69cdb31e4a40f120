import { describe, expect, it } from 'vitest';
import type { BudgetCheckResult, BudgetJob } from '../../../src/budgets/budget-job.ts';
import { createBudgetScheduler } from '../../../src/budgets/budget-scheduler.ts';
import { createLogger } from '../../../src/log.ts';

const RESULT: BudgetCheckResult = { at: 0, month: '2026-11', findings: [], commands: [], daily: [], alreadyFired: 0, dryRun: false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A job that takes `ms` per check and fails when told to. */
function slowJob(ms: number, fail = () => false) {
  const state = { started: 0, finished: 0, running: 0, maxRunning: 0 };
  const job: BudgetJob = {
    async run() {
      state.started++;
      state.maxRunning = Math.max(state.maxRunning, ++state.running);
      await sleep(ms);
      state.running--;
      state.finished++;
      if (fail()) throw new Error('ClickHouse down');
      return RESULT;
    },
  };
  return { job, state };
}

describe('the budget scheduler (node-cron)', () => {
  it('checks at once on start, then on its schedule, never two checks at a time; stop waits for the one running', async () => {
    const { job, state } = slowJob(1_300);
    const scheduler = createBudgetScheduler({ job, schedule: '* * * * * *', logger: createLogger('silent') });
    await scheduler.start();
    expect(state.started).toBe(1);
    await sleep(2_900);
    await scheduler.stop();
    expect(state.maxRunning).toBe(1);
    expect(state.started).toBeGreaterThanOrEqual(2);
    expect(state.finished).toBe(state.started);
    expect(scheduler.stats().skipped).toBeGreaterThanOrEqual(1);
    const after = state.started;
    await sleep(1_200);
    expect(state.started).toBe(after);
  });

  it('a failed check is counted and logged, and the next tick runs again', async () => {
    let calls = 0;
    const { job } = slowJob(10, () => ++calls === 1);
    const scheduler = createBudgetScheduler({ job, schedule: '* * * * * *', logger: createLogger('silent') });
    await scheduler.start();
    await sleep(1_500);
    await scheduler.stop();
    expect(scheduler.stats().failures).toBe(1);
    expect(scheduler.stats().runs).toBeGreaterThanOrEqual(1);
  });
});
