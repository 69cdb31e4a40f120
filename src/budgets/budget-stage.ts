import type { Kafka } from 'kafkajs';
import type { Topics } from '../config/env.ts';
import type { KeyRing } from '../control/sign.ts';
import { createReliableProducer } from '../kafka/client.ts';
import type { Logger } from '../log.ts';
import type { Policy } from '../policy/policy.ts';
import type { Store } from '../store/store.ts';
import { runSteps, type ShutdownSteps } from '../../consumers/shutdown.ts';
import { createBudgetJob } from './budget-job.ts';
import { createBudgetScheduler } from './budget-scheduler.ts';
import { createKafkaPublisher } from './kafka-publisher.ts';

export interface BudgetStageOptions {
  kafka: Kafka;
  store: Pick<Store, 'query' | 'insert'>;
  policy: Policy;
  keyRing: KeyRing;
  topics: Pick<Topics, 'findings' | 'control'>;
  logger: Logger;
  now?: () => number;
}

export interface BudgetStage {
  /** Written order: stop scheduling, wait for the check in progress, disconnect the producer. */
  stop(): Promise<void>;
  /** The same as steps of an ordered shutdown (consumers/shutdown.ts). */
  readonly steps: ShutdownSteps;
}

/** The `budgets` stage of `runwarden start`: the budget job on its schedule, publishing through a reliable producer. */
export async function startBudgetStage(options: BudgetStageOptions): Promise<BudgetStage> {
  const { kafka, store, policy, keyRing, topics, logger } = options;
  const producer = createReliableProducer(kafka);
  await producer.connect();
  const job = createBudgetJob({
    store,
    policy: policy.budgets,
    priceTable: policy.pricing,
    output: { keyRing, publish: createKafkaPublisher(producer, topics) },
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  const scheduler = createBudgetScheduler({ job, schedule: policy.budgets.schedule, logger });
  await scheduler.start();
  const steps: ShutdownSteps = {
    stop_fetching: () => scheduler.stop(), // no new check; the one in progress has published
    disconnect: () => producer.disconnect(),
  };
  return { steps, stop: () => runSteps(steps) };
}
