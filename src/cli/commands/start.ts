import type { Command } from 'commander';
import { createIngestConsumer, type IngestConsumer } from '../../../consumers/ingest.ts';
import { createCohortConsumer, type CohortConsumer } from '../../../consumers/cohort.ts';
import { createPipelineConsumer, type PipelineConsumer } from '../../../consumers/pipeline.ts';
import { startBudgetStage, type BudgetStage } from '../../budgets/budget-stage.ts';
import { migrate } from '../../store/migrate.ts';
import { connectKafka, createContext, loadConfiguredPolicy, openConfiguredStore, requireKeyRing, untilShutdownSignal } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { shutdownInOrder, type Stoppable } from '../../../consumers/shutdown.ts';

const STAGES = ['ingest', 'detect', 'cohort', 'budgets'] as const;
type Stage = (typeof STAGES)[number];

interface StartOptions {
  groupPrefix: string;
  policy?: string;
  stages: string;
  heartbeatMs: string;
  instanceId?: string;
}

export function registerStart(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('start')
    .description('run the consumers against Kafka and ClickHouse until SIGINT/SIGTERM')
    .option('--group-prefix <prefix>', 'consumer group prefix', 'runwarden')
    .option('--policy <file>', 'policy file (YAML or JSON); default RUNWARDEN_POLICY, else built-in defaults')
    .option('--stages <list>', `stages this process runs, comma-separated (${STAGES.join(', ')}); scale ingest and detect out by starting more processes (one budgets scheduler is enough)`, STAGES.join(','))
    .option('--heartbeat-ms <ms>', 'warden heartbeat interval on the control topic (ms)', '5000')
    .option(
      '--instance-id <id>',
      'names this process in heartbeats and its Kafka transactions; keep it stable across restarts of the same process slot so that a restart fences what a crashed predecessor left open (default: random)',
    )
    .action(async (opts: StartOptions) => {
      const ctx = createContext(env);
      // Listen from the first moment: a SIGTERM during start-up (joining groups, fencing a crashed
      // predecessor's transactions) still gets the ordered shutdown once the stages are up.
      const shutdownSignal = untilShutdownSignal();
      const stages = parseStages(opts.stages);
      // Everything that can be wrong in the input is checked before anything connects.
      const policy = await loadConfiguredPolicy(ctx, opts.policy);
      const keyRing = stages.has('detect') || stages.has('cohort') || stages.has('budgets') ? requireKeyRing(ctx) : undefined;
      if (opts.instanceId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(opts.instanceId)) throw new CliError('--instance-id: 1 to 64 letters, digits, ".", "_" or "-"', EXIT.usage);
      const heartbeatIntervalMs = Number(opts.heartbeatMs);
      if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 0) throw new CliError('--heartbeat-ms must be a whole number of ms (0 turns heartbeats off)', EXIT.usage);

      const store = await openConfiguredStore(ctx);
      await migrate(store);
      const kafka = await connectKafka(ctx).catch(async (err: unknown) => {
        await store.close();
        throw err;
      });
      let ingest: IngestConsumer | undefined;
      let pipeline: PipelineConsumer | undefined;
      let cohort: CohortConsumer | undefined;
      const { sessionTimeoutMs, checkpointIntervalMs, shutdownTimeoutMs } = ctx.config.consumers;
      const session = sessionTimeoutMs !== undefined ? { sessionTimeoutMs } : {};
      if (stages.has('ingest')) {
        ingest = createIngestConsumer({ kafka, sink: store, topics: ctx.config.topics, logger: ctx.logger, groupId: `${opts.groupPrefix}-ingest`, priceTable: policy.pricing, ...session });
      }
      if (keyRing && stages.has('detect')) {
        pipeline = createPipelineConsumer({
          kafka,
          sink: store,
          topics: ctx.config.topics,
          logger: ctx.logger,
          policy,
          keyRing,
          groupId: `${opts.groupPrefix}-detect`,
          heartbeatIntervalMs,
          ...session,
          ...(opts.instanceId ? { wardenId: opts.instanceId } : {}),
        });
      }
      if (keyRing && stages.has('cohort')) {
        cohort = createCohortConsumer({
          kafka,
          sink: store,
          topics: ctx.config.topics,
          logger: ctx.logger,
          policy,
          keyRing,
          groupId: `${opts.groupPrefix}-cohort`,
          ...session,
          ...(checkpointIntervalMs !== undefined ? { checkpointIntervalMs } : {}),
          ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
        });
      }
      await Promise.all([ingest?.start(), pipeline?.start(), cohort?.start()]);
      let budgets: BudgetStage | undefined;
      if (keyRing && stages.has('budgets')) {
        if (policy.budgets.enabled) budgets = await startBudgetStage({ kafka, store, policy, keyRing, topics: ctx.config.topics, logger: ctx.logger });
        else ctx.logger.info('budgets.enabled is false in the policy: the budgets stage does not run');
      }
      const signal = await shutdownSignal;
      ctx.logger.info({ event: 'shutdown.begin', signal, timeoutMs: shutdownTimeoutMs }, 'shutting down');
      // The written order (consumers/shutdown.ts), each step across every stage: stop fetching,
      // flush sinks, commit offsets, disconnect; then the store.
      const running: Stoppable[] = [];
      if (ingest) running.push({ name: 'ingest', ...ingest.steps });
      if (pipeline) running.push({ name: 'detect', ...pipeline.steps });
      if (cohort) running.push({ name: 'cohort', ...cohort.steps });
      if (budgets) running.push({ name: 'budgets', ...budgets.steps });
      running.push({ name: 'store', close: () => store.close() });
      const result = await shutdownInOrder({ stages: running, logger: ctx.logger, timeoutMs: shutdownTimeoutMs });
      if (!result.ok && result.reason === 'timeout') {
        // A socket stuck in the step that timed out must not keep a stopped warden alive: exit
        // once main() returned (unref: an idle event loop exits sooner by itself). What was not
        // committed is re-read by the next start; nothing is lost.
        setTimeout(() => process.exit(EXIT.shutdownTimeout), 1_000).unref();
        throw new CliError(`shutdown did not finish within RUNWARDEN_SHUTDOWN_TIMEOUT_MS (${shutdownTimeoutMs} ms); stuck in ${result.step}`, EXIT.shutdownTimeout);
      }
      if (!result.ok) throw new CliError(`shutdown: ${result.step} failed (see the log); a restart re-reads what was not committed`, EXIT.failure);
    });
}

function parseStages(list: string): Set<Stage> {
  const stages = new Set<Stage>();
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(STAGES as readonly string[]).includes(raw)) throw new CliError(`--stages: unknown stage "${raw}"; expected some of ${STAGES.join(', ')}`, EXIT.usage);
    stages.add(raw as Stage);
  }
  if (stages.size === 0) throw new CliError(`--stages: name at least one of ${STAGES.join(', ')}`, EXIT.usage);
  return stages;
}
