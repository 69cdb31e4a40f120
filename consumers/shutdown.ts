import type { Logger } from '../src/log.ts';

/**
 * The written order of a shutdown (STYLE: "stop fetching, flush sinks, commit offsets,
 * disconnect"). Each step runs for every stage before the next step starts, so no stage commits
 * an offset while another still fetches, and nothing disconnects before its last commit:
 *
 * 1. `stop_fetching` — no new batch starts (consumers paused, schedulers stopped); the batch in
 *    hand finishes what it applied and queues its output.
 * 2. `flush_sinks` — every queued command and finding is acknowledged by Kafka and every row by
 *    ClickHouse.
 * 3. `commit` — offsets (with the partials or checkpoints they cover) are committed, still as a
 *    group member (kafkajs cannot commit once a consumer has left its group).
 * 4. `disconnect` — leave the groups, close the producers.
 * 5. `close` — what the stages shared: the store (its connections outlive every writer).
 *
 * A restart resumes from the commits of step 3: nothing is lost, nothing counted twice.
 */
export const SHUTDOWN_STEPS = ['stop_fetching', 'flush_sinks', 'commit', 'disconnect', 'close'] as const;
export type ShutdownStep = (typeof SHUTDOWN_STEPS)[number];

/** A stage's part in each step; a stage with nothing to do in a step leaves it out. */
export type ShutdownSteps = Partial<Record<ShutdownStep, () => Promise<void>>>;
export type Stoppable = { name: string } & ShutdownSteps;

/** Runs one stage's steps in the written order (its `stop()` on its own: tests, demo). */
export async function runSteps(steps: ShutdownSteps): Promise<void> {
  for (const step of SHUTDOWN_STEPS) await steps[step]?.();
}

/** Instrumentation event names (logged at info as `event`), one per step plus the outcome. */
export type ShutdownEvent = `shutdown.${ShutdownStep}` | 'shutdown.done' | 'shutdown.step_failed' | 'shutdown.timeout';

export interface ShutdownOptions {
  stages: readonly Stoppable[];
  logger: Pick<Logger, 'info' | 'error'>;
  /** The bound on the whole shutdown (ms). */
  timeoutMs: number;
  /** Wall clock (ms), injected in tests. */
  now?: () => number;
}

export type ShutdownResult = { ok: true; ms: number } | { ok: false; ms: number; step: ShutdownStep; reason: 'timeout' | 'failed' };

/**
 * Runs the steps in the written order, each across every stage (a stage's failure in a step is
 * logged and the shutdown goes on: later steps still release what they can). Resolves with
 * `ok: false` — without waiting for the stuck step — once `timeoutMs` passed; the caller decides
 * how to exit.
 */
export async function shutdownInOrder(options: ShutdownOptions): Promise<ShutdownResult> {
  const { stages, logger, timeoutMs } = options;
  const now = options.now ?? Date.now;
  const started = now();
  let current: ShutdownStep = SHUTDOWN_STEPS[0];
  let failed: ShutdownStep | undefined;
  const steps = (async () => {
    for (const step of SHUTDOWN_STEPS) {
      current = step;
      const t0 = now();
      const involved = stages.filter((s) => s[step] !== undefined);
      const outcomes = await Promise.allSettled(involved.map((s) => (s[step] as () => Promise<void>)()));
      outcomes.forEach((o, i) => {
        if (o.status === 'rejected') {
          failed ??= step;
          logger.error({ event: 'shutdown.step_failed' satisfies ShutdownEvent, step, stage: involved[i]?.name, err: o.reason as unknown }, `shutdown: ${step} failed`);
        }
      });
      logger.info({ event: `shutdown.${step}` satisfies ShutdownEvent, stages: involved.map((s) => s.name), ms: now() - t0 }, `shutdown: ${step.replace('_', ' ')} done`);
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([steps.then(() => 'done' as const), timedOut]);
    const ms = now() - started;
    if (outcome === 'timeout') {
      logger.error({ event: 'shutdown.timeout' satisfies ShutdownEvent, step: current, timeoutMs }, `shutdown: not done within ${timeoutMs} ms (stuck in ${current})`);
      return { ok: false, ms, step: current, reason: 'timeout' };
    }
    logger.info({ event: 'shutdown.done' satisfies ShutdownEvent, ms, ok: failed === undefined }, 'shutdown: done');
    return failed === undefined ? { ok: true, ms } : { ok: false, ms, step: failed, reason: 'failed' };
  } finally {
    clearTimeout(timer);
  }
}
