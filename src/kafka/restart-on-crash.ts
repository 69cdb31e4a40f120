import type { Consumer, ConsumerCrashEvent, ConsumerRunConfig } from 'kafkajs';
import type { Logger } from '../log.ts';
import { retry } from '../util/retry.ts';

export interface RestartOnCrashOptions {
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Connects, subscribes and runs the consumer again (what start() did). */
  rerun: () => Promise<void>;
  /** True once the owner is shutting down: a crash then is left alone. */
  isStopping: () => boolean;
  /** First wait before a restart (ms, default 1,000); doubles up to 30 s while restarts fail. */
  backoffMs?: number;
}

/**
 * kafkajs restarts a crashed consumer by itself only when the error was retriable; after a
 * non-retriable one (a broker that came back with different metadata, a coordinator error
 * kafkajs does not classify, an exception it cannot place) the consumer stays disconnected
 * while the process lives on — a warden that looks alive and enforces nothing. This re-runs it,
 * with a backoff, until it runs again or the owner stops. Offsets are committed only after the
 * sinks acknowledged, so a restarted consumer re-reads what was in flight; the consumers'
 * GROUP_JOIN handlers rebuild their state from the commits.
 *
 * Returns a function that removes the listener.
 */
export function restartOnCrash(consumer: Consumer, options: RestartOnCrashOptions): () => void {
  const { logger, rerun, isStopping } = options;
  let restarting = false;
  return consumer.on(consumer.events.CRASH, (event: ConsumerCrashEvent) => {
    const { error, groupId, restart } = event.payload;
    if (restart) {
      logger.warn({ event: 'consumer.crash', groupId, err: error, restart }, 'consumer crashed; kafkajs restarts it');
      return;
    }
    if (isStopping() || restarting) return;
    restarting = true;
    logger.error({ event: 'consumer.crash', groupId, err: error, restart }, 'consumer crashed with a non-retriable error; restarting it');
    void retry(
      async () => {
        if (isStopping()) return;
        await rerun();
      },
      {
        retries: Infinity,
        baseDelayMs: options.backoffMs ?? 1_000,
        maxDelayMs: 30_000,
        isRetriable: () => !isStopping(),
        onRetry: (err, attempt) => logger.warn({ event: 'consumer.restart_failed', groupId, err, attempt }, 'restarting the crashed consumer failed; retrying'),
      },
    )
      .then(() => logger.warn({ event: 'consumer.restarted', groupId }, 'crashed consumer restarted'))
      .catch((err: unknown) => logger.error({ err, groupId }, 'gave up restarting the crashed consumer'))
      .finally(() => {
        restarting = false;
      });
  });
}

export interface RunWithRestartOptions extends Omit<RestartOnCrashOptions, 'rerun'> {
  /** The topic the consumer is subscribed to, and where a fresh group starts on it. */
  topic: string;
  fromBeginning: boolean;
  runConfig: ConsumerRunConfig;
}

/**
 * Runs a connected, subscribed consumer, and after a non-retriable crash connects, subscribes
 * and runs it again with the same config (restartOnCrash). Returns what restartOnCrash returns.
 */
export async function runWithRestart(consumer: Consumer, options: RunWithRestartOptions): Promise<() => void> {
  const { topic, fromBeginning, runConfig, ...restart } = options;
  await consumer.run(runConfig);
  return restartOnCrash(consumer, {
    ...restart,
    rerun: async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning });
      await consumer.run(runConfig);
    },
  });
}
